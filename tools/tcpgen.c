/*
 * tcpgen: known TCP sessions for tcplife's tests and benchmark.
 *
 *   tcpgen server ADDR PORT [-n COUNT] [-r REPLY_BYTES]
 *       Prints "port N" once listening. For each connection: reads until
 *       EOF, writes REPLY_BYTES, closes. Exits after COUNT connections
 *       (0: never).
 *   tcpgen client ADDR PORT -n COUNT [-s SEND_BYTES] [-b BIND_ADDR] [-d SECONDS]
 *                [-a PORT2 -e EVERY] [-A] [-y SYNCNT] [-f] [-R RATE]
 *       COUNT sessions one after another (0: until -d): connect, send
 *       SEND_BYTES, shutdown(SHUT_WR), read until EOF, close. With -d, stops
 *       after SECONDS. With -a/-e, every EVERY-th session goes to PORT2.
 *       -A aborts instead: after sending (and -w MS later), close with
 *       SO_LINGER 0 (a reset).
 *       -y sets TCP_SYNCNT (SYN retries). -f: a failed connect is reported
 *       and counted, not fatal. -R paces the sessions at RATE a second.
 *       Prints "sessions N seconds S second_port M failed F".
 *
 * The comm of each side is the name it is run under, so tests copy the
 * binary to distinct names.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof(*a4);
    return AF_INET;
  }
  if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof(*a6);
    return AF_INET6;
  }
  fprintf(stderr, "tcpgen: bad address %s\n", s);
  exit(2);
}

static void write_all(int fd, long n)
{
  while (n > 0) {
    ssize_t w = write(fd, buf, n > (long)sizeof(buf) ? sizeof(buf) : (size_t)n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    n -= w;
  }
}

static long read_all(int fd)
{
  long total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return total;
    total += r;
  }
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  if (argc < 4) {
    fprintf(stderr, "usage: tcpgen server|client ADDR PORT [options]\n");
    return 2;
  }
  const char *mode = argv[1], *addr = argv[2], *bind_addr = NULL;
  int port = atoi(argv[3]);
  long count = 0, send_bytes = 0, reply = 0, every = 0;
  int port2 = 0, abort_close = 0, syncnt = 0, tolerate = 0, wait_ms = 0;
  double rate = 0;
  double duration = 0;
  int opt;
  optind = 4;
  while ((opt = getopt(argc, argv, "n:s:r:b:d:a:e:Ay:fw:R:")) != -1) {
    switch (opt) {
    case 'n': count = atol(optarg); break;
    case 's': send_bytes = atol(optarg); break;
    case 'r': reply = atol(optarg); break;
    case 'b': bind_addr = optarg; break;
    case 'd': duration = atof(optarg); break;
    case 'a': port2 = atoi(optarg); break;
    case 'e': every = atol(optarg); break;
    case 'A': abort_close = 1; break;
    case 'y': syncnt = atoi(optarg); break;
    case 'f': tolerate = 1; break;
    case 'w': wait_ms = atoi(optarg); break;
    case 'R': rate = atof(optarg); break;
    default: return 2;
    }
  }
  memset(buf, 'x', sizeof(buf));
  /* A peer's reset must end a write with EPIPE, not the process. */
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_storage ss;
  socklen_t len;
  int fam = parse_addr(addr, port, &ss, &len);

  if (strcmp(mode, "server") == 0) {
    int l = socket(fam, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 4096)) {
      perror("tcpgen: bind/listen");
      return 1;
    }
    getsockname(l, (struct sockaddr *)&ss, &len);
    printf("port %d\n", ntohs(fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port));
    fflush(stdout);
    for (long i = 0; count == 0 || i < count; i++) {
      int c = accept(l, NULL, NULL);
      if (c < 0) {
        if (errno == EINTR)
          continue;
        perror("tcpgen: accept");
        return 1;
      }
      read_all(c);
      write_all(c, reply);
      close(c);
    }
    close(l);
    return 0;
  }

  struct sockaddr_storage bs, ss2;
  socklen_t blen = 0, len2 = 0;
  if (port2)
    parse_addr(addr, port2, &ss2, &len2);
  long second = 0;
  if (bind_addr)
    parse_addr(bind_addr, 0, &bs, &blen);
  double start = now();
  long done = 0, failed = 0;
  for (; count == 0 || done < count; done++) {
    if (duration > 0 && (done & 63) == 0 && now() - start >= duration)
      break;
    if (rate > 0) {
      /* Steady pacing: session i starts at start + i / rate. */
      double wait = start + done / rate - now();
      if (wait > 0)
        usleep((useconds_t)(wait * 1e6));
      if (duration > 0 && now() - start >= duration)
        break;
    }
    int c = socket(fam, SOCK_STREAM, 0);
    if (bind_addr && bind(c, (struct sockaddr *)&bs, blen)) {
      perror("tcpgen: bind");
      return 1;
    }
    if (syncnt)
      setsockopt(c, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt));
    int alt = port2 && every > 0 && done % every == every - 1;
    second += alt;
    if (alt ? connect(c, (struct sockaddr *)&ss2, len2) : connect(c, (struct sockaddr *)&ss, len)) {
      perror("tcpgen: connect");
      if (!tolerate)
        return 1;
      failed++;
      close(c);
      continue;
    }
    write_all(c, send_bytes);
    if (abort_close) {
      if (wait_ms)
        usleep(wait_ms * 1000);
      struct linger lg = {1, 0};
      setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      close(c);
      continue;
    }
    shutdown(c, SHUT_WR);
    read_all(c);
    close(c);
  }
  printf("sessions %ld seconds %.6f second_port %ld failed %ld\n", done, now() - start, second,
         failed);
  return 0;
}
