// procpoke FILE DATA|- [COMM]: set comm, then write DATA to FILE (or read it if DATA is "-").
// Used to make named user processes enter a test module's /proc handler.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc < 3) { fprintf(stderr, "usage: procpoke FILE DATA|- [COMM]\n"); return 2; }
	if (argc > 3) prctl(PR_SET_NAME, argv[3], 0, 0, 0);
	fd = open(argv[1], strcmp(argv[2], "-") ? O_WRONLY : O_RDONLY);
	if (fd < 0) { perror(argv[1]); return 1; }
	printf("procpoke[%d]: %s %s\n", getpid(), strcmp(argv[2], "-") ? "writing" : "reading", argv[1]);
	fflush(stdout);
	if (strcmp(argv[2], "-")) n = write(fd, argv[2], strlen(argv[2]));
	else while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
	printf("procpoke[%d]: done (%zd)\n", getpid(), n);
	return 0;
}
