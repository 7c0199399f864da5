// logwriter FILE [COMM]: append 4 KiB records to FILE with fsync() after each, every 200 ms.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	char rec[4096];
	long n = 0;
	int fd;

	if (argc < 2) { fprintf(stderr, "usage: logwriter FILE [COMM]\n"); return 2; }
	if (argc > 2) prctl(PR_SET_NAME, argv[2], 0, 0, 0);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) { perror(argv[1]); return 1; }
	for (;;) {
		memset(rec, 'a' + n % 26, sizeof rec);
		snprintf(rec, 64, "record %ld\n", n);
		if (write(fd, rec, sizeof rec) != sizeof rec) { perror("write"); return 1; }
		if (fsync(fd)) { perror("fsync"); return 1; }
		if (n % 10 == 0) { printf("logwriter[%d]: %ld records synced\n", getpid(), n); fflush(stdout); }
		n++;
		usleep(200000);
	}
}
