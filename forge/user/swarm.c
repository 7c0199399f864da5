// swarm N HUNG FILE: start N threads (small stacks). Threads 0..HUNG-1 read FILE (a /proc file whose
// handler blocks); the others sleep: every 4th in nanosleep, the rest in pthread_cond_wait (futex).
// Prints progress; "swarm: all N threads started" when done. Thread comms: swarm-hung / swarm-idle.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static const char *file;
static long hung;

static void *worker(void *arg)
{
	long i = (long)arg;
	char buf[256];

	if (i < hung) {
		pthread_setname_np(pthread_self(), "swarm-hung");
		int fd = open(file, O_RDONLY);
		if (fd >= 0) { ssize_t n = read(fd, buf, sizeof buf); (void)n; close(fd); }
	}
	pthread_setname_np(pthread_self(), "swarm-idle");
	if (i % 4 == 3) {
		for (;;) { struct timespec ts = { 3600, 0 }; nanosleep(&ts, NULL); }
	}
	pthread_mutex_lock(&mu);
	for (;;) pthread_cond_wait(&cv, &mu);
	return NULL;
}

int main(int argc, char **argv)
{
	long n, i;
	pthread_attr_t a;

	if (argc < 4) { fprintf(stderr, "usage: swarm N HUNG FILE\n"); return 2; }
	n = atol(argv[1]); hung = atol(argv[2]); file = argv[3];
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 32768);
	for (i = 0; i < n; i++) {
		pthread_t t;
		int e = pthread_create(&t, &a, worker, (void *)i);
		if (e) { fprintf(stderr, "swarm: pthread_create %ld: %s\n", i, strerror(e)); sleep(1); i--; continue; }
		if (i % 2000 == 0) { printf("swarm: %ld threads\n", i); fflush(stdout); }
	}
	printf("swarm: all %ld threads started\n", n);
	fflush(stdout);
	for (;;) pause();
}
