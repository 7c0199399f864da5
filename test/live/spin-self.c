/*
 * Test helper for `coroner live`: a thread that spins on `jmp .` (a branch to itself) forever.
 * Prints "ready <pid> <tid>" once the spinning thread runs. Stays until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int started;

static void *spin(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "spin-self");
  printf("ready %d %ld\n", getpid(), (long)syscall(SYS_gettid));
  fflush(stdout);
  started = 1;
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("1: jmp 1b");
#elif defined(__aarch64__)
  __asm__ volatile("1: b 1b");
#else
#error "no branch-to-self for this architecture"
#endif
  return NULL;
}

int main(void) {
  pthread_t th;
  if (pthread_create(&th, NULL, spin, NULL)) return 3;
  for (;;) pause();
}
