/* minik8s completion bash|zsh: shell completion scripts generated from the command
 * table (main.c), so a new command or flag is completed as soon as it is listed
 * there. Load with `source <(minik8s completion bash)` (or zsh), or install the
 * output as /etc/bash_completion.d/minik8s or as _minik8s in a zsh $fpath directory. */
#include <stdio.h>
#include <string.h>
#include "commands.h"

/* resource types `minik8s kubectl VERB` takes (cmd/minik8s/kubectl.c) */
static const char kubectl_resources[] =
	"pods services endpoints namespaces nodes events deployments replicasets daemonsets";
/* verbs after which a resource type comes */
static const char kubectl_typed_verbs[] = "get describe delete scale expose";
/* flags whose value is a directory, and a file */
static const char dir_flags[] = "--data-dir --run-dir --netns-dir --dir";
static const char file_flags[] =
	"--kubeconfig --write-kubeconfig --token-file --ca-file --registries --filename -f "
	"--certificate-authority --datastore-cafile --datastore-certfile --datastore-keyfile";

static void completion_help(void)
{
	printf("Usage: minik8s completion bash|zsh\n\n"
	       "Prints a completion script for the shell: minik8s's commands, their\n"
	       "subcommands and flags (from the command table), kubectl resource types, and\n"
	       "directories or files as the values of flags that take them.\n\n"
	       "  bash:  source <(minik8s completion bash)\n"
	       "         or: minik8s completion bash >/etc/bash_completion.d/minik8s\n"
	       "  zsh:   source <(minik8s completion zsh)   (after compinit)\n"
	       "         or: minik8s completion zsh >\"${fpath[1]}/_minik8s\"\n");
}

static void print_bash(const struct command *cmds, size_t n)
{
	printf("# bash completion for minik8s (minik8s completion bash)\n"
	       "_minik8s() {\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	       "\tlocal cmd=${COMP_WORDS[1]} flags='' subs='' i sub=''\n"
	       "\tCOMPREPLY=()\n"
	       "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W '");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", cmds[i].name);
	printf(" --help --version' -- \"$cur\"))\n"
	       "\t\treturn 0\n"
	       "\tfi\n"
	       "\tcase $cmd in\n");
	for (size_t i = 0; i < n; i++)
		printf("\t%s) flags='%s' subs='%s' ;;\n", cmds[i].name, cmds[i].flags ? cmds[i].flags : "",
		       cmds[i].subcommands ? cmds[i].subcommands : "");
	printf("\t*) return 0 ;;\n"
	       "\tesac\n"
	       "\tcase \" %s \" in *\" $prev \"*) COMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;; esac\n"
	       "\tcase \" %s \" in *\" $prev \"*) COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;; esac\n"
	       "\tif [[ $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
	       "\t\treturn 0\n"
	       "\tfi\n"
	       "\t# the subcommand: the first word after the command that is not a flag\n"
	       "\tfor ((i = 2; i < COMP_CWORD; i++)); do\n"
	       "\t\tcase ${COMP_WORDS[i]} in -*) ;; *) sub=${COMP_WORDS[i]}; break ;; esac\n"
	       "\tdone\n"
	       "\tif [ -n \"$subs\" ] && [ -z \"$sub\" ]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	       "\t\treturn 0\n"
	       "\tfi\n"
	       "\tif [ \"$cmd\" = kubectl ] && [ \"$prev\" = \"$sub\" ]; then\n"
	       "\t\tcase \" %s \" in *\" $sub \"*)\n"
	       "\t\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n"
	       "\t\t\treturn 0 ;;\n"
	       "\t\tesac\n"
	       "\tfi\n"
	       "\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	       "}\n"
	       "complete -F _minik8s minik8s\n",
	       dir_flags, file_flags, kubectl_typed_verbs, kubectl_resources);
}

/* a summary inside a zsh single-quoted word */
static void zsh_desc(const char *s)
{
	for (; *s; s++)
		fputs(*s == '\'' ? "'\\''" : (char[]){ *s, 0 }, stdout);
}

static void print_zsh(const struct command *cmds, size_t n)
{
	printf("#compdef minik8s\n"
	       "# zsh completion for minik8s (minik8s completion zsh)\n"
	       "_minik8s() {\n"
	       "\tlocal -a cmds flags subs dirflags fileflags typed\n"
	       "\tlocal cmd=${words[2]} prev=${words[CURRENT-1]} sub='' i\n"
	       "\tcmds=(\n");
	for (size_t i = 0; i < n; i++) {
		printf("\t\t'%s:", cmds[i].name);
		zsh_desc(cmds[i].summary);
		printf("'\n");
	}
	printf("\t)\n"
	       "\tif (( CURRENT == 2 )); then\n"
	       "\t\t_describe -t commands 'minik8s command' cmds\n"
	       "\t\treturn\n"
	       "\tfi\n"
	       "\tcase $cmd in\n");
	for (size_t i = 0; i < n; i++)
		printf("\t%s) flags=(%s) subs=(%s) ;;\n", cmds[i].name, cmds[i].flags ? cmds[i].flags : "",
		       cmds[i].subcommands ? cmds[i].subcommands : "");
	printf("\t*) return 1 ;;\n"
	       "\tesac\n"
	       "\tdirflags=(%s) fileflags=(%s) typed=(%s)\n"
	       "\tif (( ${dirflags[(Ie)$prev]} )); then _files -/; return; fi\n"
	       "\tif (( ${fileflags[(Ie)$prev]} )); then _files; return; fi\n"
	       "\tif [[ $PREFIX == -* ]]; then\n"
	       "\t\tcompadd -- $flags\n"
	       "\t\treturn\n"
	       "\tfi\n"
	       "\tfor ((i = 3; i < CURRENT; i++)); do\n"
	       "\t\tif [[ ${words[i]} != -* ]]; then sub=${words[i]}; break; fi\n"
	       "\tdone\n"
	       "\tif (( $#subs )) && [[ -z $sub ]]; then\n"
	       "\t\tcompadd -- $subs\n"
	       "\t\treturn\n"
	       "\tfi\n"
	       "\tif [[ $cmd == kubectl && $prev == $sub ]] && (( ${typed[(Ie)$sub]} )); then\n"
	       "\t\tcompadd -- %s\n"
	       "\t\treturn\n"
	       "\tfi\n"
	       "\t_files\n"
	       "}\n"
	       "if [[ ${funcstack[1]} == _minik8s ]]; then\n"
	       "\t_minik8s \"$@\"\n"
	       "else\n"
	       "\tcompdef _minik8s minik8s\n"
	       "fi\n",
	       dir_flags, file_flags, kubectl_typed_verbs, kubectl_resources);
}

int cmd_completion(int argc, char **argv)
{
	size_t n;
	const struct command *cmds = cmd_table(&n);

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		completion_help();
		return 0;
	}
	if (argc != 2)
		return cmd_usage_error("completion", "expected one shell: bash or zsh");
	if (!strcmp(argv[1], "bash"))
		print_bash(cmds, n);
	else if (!strcmp(argv[1], "zsh"))
		print_zsh(cmds, n);
	else
		return cmd_usage_error("completion", "unsupported shell '%s' (bash or zsh)", argv[1]);
	return 0;
}
