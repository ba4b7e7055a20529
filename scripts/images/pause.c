/* The pod sandbox's first process (containerd's sandbox_image): it holds the pod's namespaces
 * open, reaps the children a shared PID namespace hands it, and exits on SIGINT/SIGTERM.
 * Built static with the host compiler so the image needs no libc. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  /* Blocked signals stay pending for sigwaitinfo: no handler runs, no signal is lost. */
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      perror("pause: sigwaitinfo");
      return 1;
    }
    if (sig == SIGCHLD) {
      /* One SIGCHLD may stand for several exits. */
      while (waitpid(-1, NULL, WNOHANG) > 0) {}
      continue;
    }
    return 0;
  }
}
