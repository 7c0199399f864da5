/*
 * Test helper for `coroner live`: a userfaultfd whose reader went away.
 *
 * The process registers an anonymous region with a userfaultfd (missing-page mode), hands the
 * descriptor to a child "server" over a Unix socket (SCM_RIGHTS), and the server exits without
 * ever reading it. A thread then touches the region through a GUP path (process_vm_readv on its
 * own pid pins the pages with a killable fault), so it sleeps in handle_userfault in D state.
 * With argv[1] = "serve" the server stays and serves instead: it polls the descriptor, reads each
 * fault and resolves it (UFFDIO_ZEROPAGE), while the thread keeps faulting a page in again every
 * 20 ms (MADV_DONTNEED re-arms it): the healthy case, where the server is a reader.
 * The owner keeps its own descriptor (as a VMM does): if every descriptor were closed, the kernel
 * would release the context and wake the fault. Prints "ready <pid> <tid>" as the faulting thread
 * starts. Stays until killed (SIGKILL also ends the killable wait of the faulting thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static char *region;
static size_t region_len;
static int serve;

static int new_uffd(void) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
  if (fd >= 0) return fd;
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return -1;
  fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
  close(dev);
  return fd;
}

static void die(const char *what) {
  fprintf(stderr, "uffd-stuck: %s: %s\n", what, strerror(errno));
  exit(3);
}

static void send_fd(int sock, int fd) {
  char data = 'u';
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  if (sendmsg(sock, &msg, 0) != 1) die("sendmsg");
}

static int recv_fd(int sock) {
  char data;
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  if (recvmsg(sock, &msg, 0) != 1) die("recvmsg");
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  int fd;
  if (!cm || cm->cmsg_type != SCM_RIGHTS) die("no descriptor received");
  memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  return fd;
}

static void *faulter(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "uffd-faulter");
  printf("ready %d %ld\n", getpid(), (long)syscall(SYS_gettid));
  fflush(stdout);
  char buf[64];
  struct iovec local = {.iov_base = buf, .iov_len = sizeof buf};
  struct iovec remote = {.iov_base = region, .iov_len = sizeof buf};
  /* Pins the page with a killable fault: handle_userfault waits in TASK_KILLABLE (D). */
  process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  while (serve) {
    madvise(region, region_len, MADV_DONTNEED);
    usleep(20 * 1000);
    process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  }
  return NULL;
}

/* The serving side: wait in poll() on the uffd, read a fault, map a zero page there. */
static void serve_forever(int fd) {
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) die("poll");
    struct uffd_msg msg;
    ssize_t n = read(fd, &msg, sizeof msg);
    if (n != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT) continue;
    long page = sysconf(_SC_PAGESIZE);
    struct uffdio_zeropage z = {.range = {.start = msg.arg.pagefault.address & ~(unsigned long)(page - 1), .len = (unsigned long)page}};
    ioctl(fd, UFFDIO_ZEROPAGE, &z);
  }
}

int main(int argc, char **argv) {
  serve = argc > 1 && strcmp(argv[1], "serve") == 0;
  int uffd = new_uffd();
  if (uffd < 0) die("userfaultfd");
  struct uffdio_api api = {.api = UFFD_API};
  if (ioctl(uffd, UFFDIO_API, &api)) die("UFFDIO_API");
  region_len = 4 * (size_t)sysconf(_SC_PAGESIZE);
  region = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) die("mmap");
  struct uffdio_register reg = {.range = {.start = (unsigned long)region, .len = region_len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg)) die("UFFDIO_REGISTER");

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
  pid_t server = fork();
  if (server < 0) die("fork");
  if (server == 0) {
    prctl(PR_SET_NAME, "uffd-server");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(sv[0]);
    int got = recv_fd(sv[1]);
    if (serve) serve_forever(got);
    /* The server takes the descriptor and goes away without reading a single fault. */
    close(got);
    _exit(0);
  }
  close(sv[1]);
  send_fd(sv[0], uffd);
  if (!serve && waitpid(server, NULL, 0) != server) die("waitpid");

  pthread_t th;
  if (pthread_create(&th, NULL, faulter, NULL)) die("pthread_create");
  /* Stays alive (and keeps the faulting thread blocked) until killed. */
  for (;;) pause();
}
