/* Placeholder until the command line lands. */
#include <stdio.h>

int main(void) {
    fputs("embp: not built yet\n", stderr);
    return 1;
}
