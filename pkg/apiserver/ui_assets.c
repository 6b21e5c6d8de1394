/* The /ui/ page's files (pkg/apiserver/ui/), embedded in the binary: no CDN,
 * nothing read from disk at run time. Each is followed by a NUL so it can be
 * used as a C string. The Makefile makes this object depend on the files. */
#include "internal.h"

#define EMBED(sym, file)                                                  \
	__asm__(".section .rodata\n"                                      \
		".global " #sym "\n"                                      \
		".type " #sym ", @object\n"                              \
		".balign 16\n" #sym ":\n"                                 \
		".incbin \"" file "\"\n"                                  \
		".byte 0\n"                                               \
		".previous\n")

EMBED(mk_ui_index_html, "pkg/apiserver/ui/index.html");
EMBED(mk_ui_app_js, "pkg/apiserver/ui/app.js");
EMBED(mk_ui_app_css, "pkg/apiserver/ui/app.css");
