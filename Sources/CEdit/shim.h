#ifndef TIMBRE_CEDIT_SHIM_H
#define TIMBRE_CEDIT_SHIM_H
// libedit (BSD editline and history), for `timbre repl`. `el_set`, `el_get` and `history`
// are variadic, which Swift cannot call: each use gets a typed `static inline` wrapper here.
#include <stdio.h>
#include <histedit.h>

/// The prompt callback: returns the prompt text (kept alive by the caller).
typedef char *(*cedit_prompt_fn)(EditLine *);
/// A bound editor command (Tab's completion): returns one of CC_NORM, CC_REFRESH, CC_REDISPLAY, CC_ERROR...
typedef unsigned char (*cedit_command_fn)(EditLine *, int);

/// An editor on the process's terminal (stdin, stdout, stderr), emacs bindings, with
/// libedit's signal handling (it restores the terminal on SIGINT, SIGTERM, SIGTSTP...).
static inline EditLine *cedit_open(const char *program) {
    EditLine *e = el_init(program, stdin, stdout, stderr);
    if (e == NULL) return NULL;
    el_set(e, EL_EDITOR, "emacs");
    el_set(e, EL_SIGNAL, 1);
    return e;
}

static inline void cedit_set_prompt(EditLine *e, cedit_prompt_fn prompt) { el_set(e, EL_PROMPT, prompt); }
static inline void cedit_set_client_data(EditLine *e, void *data) { el_set(e, EL_CLIENTDATA, data); }
static inline void *cedit_client_data(EditLine *e) {
    void *data = NULL;
    el_get(e, EL_CLIENTDATA, &data);
    return data;
}
static inline void cedit_set_history(EditLine *e, History *h) { el_set(e, EL_HIST, history, h); }
/// Binds `key` (e.g. "^I") to a new editor command `name` running `fn`.
static inline int cedit_bind(EditLine *e, const char *name, const char *help, cedit_command_fn fn, const char *key) {
    if (el_set(e, EL_ADDFN, name, help, fn) != 0) return -1;
    return el_set(e, EL_BIND, key, name, NULL);
}

/// The line being edited: text from `buffer` to `lastchar`, the cursor at `cursor` (bytes).
static inline const LineInfo *cedit_line(EditLine *e) { return el_line(e); }

static inline int cedit_history_size(History *h, int size) { HistEvent ev; return history(h, &ev, H_SETSIZE, size); }
static inline int cedit_history_unique(History *h, int on) { HistEvent ev; return history(h, &ev, H_SETUNIQUE, on); }
static inline int cedit_history_enter(History *h, const char *line) { HistEvent ev; return history(h, &ev, H_ENTER, line); }
static inline int cedit_history_load(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_LOAD, path); }
static inline int cedit_history_save(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_SAVE, path); }

/// Writes text on the editor's output and flushes it (the completion list).
static inline void cedit_write(const char *text) { fputs(text, stdout); fflush(stdout); }

#endif
