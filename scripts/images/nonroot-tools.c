/* The only programs of the non-root test image, which has no shell on purpose: `echo` (what a
 * Task runs there) and `id` (prints "uid=U gid=G", so a test can see the image's USER applied).
 * One static binary, the tool chosen by the name it was called by. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  if (strcmp(name, "echo") == 0) {
    for (int i = 1; i < argc; i++) printf(i > 1 ? " %s" : "%s", argv[i]);
    putchar('\n');
    return 0;
  }
  if (strcmp(name, "id") == 0) {
    printf("uid=%u gid=%u\n", (unsigned)getuid(), (unsigned)getgid());
    return 0;
  }
  fprintf(stderr, "%s: unknown tool (call it as echo or id)\n", name);
  return 2;
}
