/* placeholder until the built-in client lands */
#include <stdio.h>
#include "commands.h"
int cmd_kubectl(int argc, char **argv)
{
	fprintf(stderr, "minik8s kubectl: not built yet\n");
	return 1;
}
