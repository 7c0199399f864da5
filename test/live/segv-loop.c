/*
 * Test helper for `coroner live`: a thread whose SIGSEGV handler returns without fixing the
 * fault, so the same store instruction faults again, forever (the kernel takes every fault and
 * delivers every signal). Prints "ready <pid> <tid>" just before the first fault. Stays until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int *unmapped = (volatile int *)16;

static void on_segv(int sig) {
  (void)sig; /* returns to the faulting instruction, which faults again */
}

static void *loop(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "segv-loop");
  printf("ready %d %ld\n", getpid(), (long)syscall(SYS_gettid));
  fflush(stdout);
  for (;;) *unmapped = 1;
  return NULL;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, NULL);
  pthread_t th;
  if (pthread_create(&th, NULL, loop, NULL)) return 3;
  for (;;) pause();
}
