// dioread DEV OFFSET [COMM]: one O_DIRECT 4 KiB read of DEV at OFFSET, with comm set to COMM.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	void *buf;
	ssize_t n;
	int fd;

	if (argc < 3) { fprintf(stderr, "usage: dioread DEV OFFSET [COMM]\n"); return 2; }
	if (argc > 3) prctl(PR_SET_NAME, argv[3], 0, 0, 0);
	if (posix_memalign(&buf, 4096, 4096)) return 1;
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) { perror(argv[1]); return 1; }
	printf("dioread[%d]: O_DIRECT pread %s @%s\n", getpid(), argv[1], argv[2]);
	fflush(stdout);
	n = pread(fd, buf, 4096, atoll(argv[2]));
	printf("dioread[%d]: done (%zd)\n", getpid(), n);
	return 0;
}
