/*
 * rbref: loads rbref.bpf.o and prints one line per closed session,
 * "PID COMM LPORT RPORT TX RX SPAN_US", draining the ring every 50 ms
 * (the program never wakes us). With -n it attaches the null program
 * instead and prints nothing. SIGINT/SIGTERM end it after a last drain.
 *
 *   rbref [-n] OBJECT
 */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct rec {
  unsigned long long span_us, rx_b, tx_b;
  unsigned int pid;
  unsigned short lport, rport;
  char comm[16];
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int on_rec(void *ctx, void *data, size_t len)
{
  (void)ctx;
  if (len < sizeof(struct rec))
    return 0;
  const struct rec *r = data;
  printf("%u %.16s %u %u %llu %llu %llu\n", r->pid, r->comm, r->lport, r->rport, r->tx_b, r->rx_b,
         r->span_us);
  return 0;
}

int main(int argc, char **argv)
{
  int null = argc > 2 && strcmp(argv[1], "-n") == 0;
  if (argc < 2) {
    fprintf(stderr, "usage: rbref [-n] OBJECT\n");
    return 2;
  }
  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof(out));
  struct bpf_object *obj = bpf_object__open_file(argv[argc - 1], NULL);
  if (!obj) {
    perror("rbref: open");
    return 1;
  }
  bpf_program__set_autoload(bpf_object__find_program_by_name(obj, null ? "rbref" : "null"), 0);
  if (null) {
    bpf_map__set_autocreate(bpf_object__find_map_by_name(obj, "events"), 0);
    bpf_map__set_autocreate(bpf_object__find_map_by_name(obj, "starts"), 0);
  }
  if (bpf_object__load(obj)) {
    fprintf(stderr, "rbref: load failed\n");
    return 1;
  }
  struct bpf_link *link =
      bpf_program__attach(bpf_object__find_program_by_name(obj, null ? "null" : "rbref"));
  if (!link) {
    fprintf(stderr, "rbref: attach failed\n");
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct ring_buffer *rb = NULL;
  if (!null)
    rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), on_rec, NULL, NULL);
  while (!stop) {
    usleep(50000);
    if (rb)
      ring_buffer__consume(rb);
  }
  if (rb) {
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
  }
  fflush(stdout);
  bpf_link__destroy(link);
  bpf_object__close(obj);
  return 0;
}
