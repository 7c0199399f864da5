#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile long hits;
static void on_segv(int s) { (void)s; hits++; }   /* returns without fixing: the load faults again */
int main(void) {
  signal(SIGSEGV, on_segv);
  volatile int *p = (int *)8;
  for (;;) (void)*p;
}
