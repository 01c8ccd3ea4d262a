/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Printing keys and values: JSON (a value that is not UTF-8 goes into a
 * base64 field, never into a string it would corrupt) and terminal-safe
 * escapes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_sequence(const unsigned char *p, size_t left) {
        unsigned char c = p[0];
        size_t n;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0)
                n = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
                n = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
                n = 4, cp = c & 0x07;
        else
                return 0;
        if (n > left)
                return 0;
        for (size_t k = 1; k < n; k++) {
                if ((p[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[k] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past Unicode. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool ctl_utf8_valid(const void *p, size_t len) {
        const unsigned char *s = p;

        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence(s + i, len - i);

                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

/* Only for UTF-8 input (checked by the caller). */
void ctl_json_string(FILE *f, const void *p, size_t len) {
        const unsigned char *s = p;

        fputc('"', f);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = s[i];

                switch (c) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                fprintf(f, "\\u%04x", c);
                        else
                                fputc(c, f);
                }
        }
        fputc('"', f);
}

static void base64(FILE *f, const uint8_t *p, size_t len) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        fputc('"', f);
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;

                if (i + 1 < len)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                fputc(alphabet[(v >> 18) & 63], f);
                fputc(alphabet[(v >> 12) & 63], f);
                fputc(i + 1 < len ? alphabet[(v >> 6) & 63] : '=', f);
                fputc(i + 2 < len ? alphabet[v & 63] : '=', f);
        }
        fputc('"', f);
}

void ctl_json_value_field(FILE *f, const void *p, size_t len) {
        if (ctl_utf8_valid(p, len)) {
                fputs(",\"value\":", f);
                ctl_json_string(f, p, len);
        } else {
                fputs(",\"value_base64\":", f);
                base64(f, p, len);
        }
}

void ctl_escaped(FILE *f, const void *p, size_t len) {
        const unsigned char *s = p;

        for (size_t i = 0; i < len;) {
                unsigned char c = s[i];
                size_t n = utf8_sequence(s + i, len - i);

                if (n > 1) {
                        fwrite(s + i, 1, n, f);
                        i += n;
                        continue;
                }
                i++;
                if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 || c >= 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

int ctl_flush_stdout(void) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
                /* A closed pipe (raftctl list | head) is not worth a message. */
                if (errno != EPIPE)
                        ctl_error(_("Failed to write to standard output: %s"), strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

/* Columns are counted in what a terminal shows, not in bytes: "SCHLÜSSEL"
 * is nine columns wide in ten bytes. */
size_t ctl_text_width(const char *s) {
        size_t n = mbstowcs(NULL, s, 0);
        _cleanup_free_ wchar_t *w = NULL;
        int width;

        if (n == (size_t) -1)
                return strlen(s);
        w = calloc(n + 1, sizeof(wchar_t));
        if (!w || mbstowcs(w, s, n + 1) == (size_t) -1)
                return strlen(s);
        width = wcswidth(w, n);
        return width < 0 ? strlen(s) : (size_t) width;
}

void ctl_print_padded(FILE *f, const char *s, size_t width) {
        size_t w = ctl_text_width(s);

        fputs(s, f);
        for (; w < width; w++)
                fputc(' ', f);
}
