package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Names, tags, file names inside archives and registries' error messages
// are written by whoever made the input. Printed raw, an ESC sequence in
// a tag can retitle the terminal, hide lines or fake an "OK"; CR and LF
// forge report lines; U+202E turns a digest around on screen. So human
// output escapes every character a terminal does not show as itself, in
// Go's notation (\x1b, \r, \u202e), the way strconv.Quote would, but
// without quotes: a plain name reads as before.

// escape returns s with every non-printable rune (controls, DEL, C1,
// bidi and other format characters, separators other than the space) and
// every byte that is not UTF-8 written as an escape sequence.
func escape(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s // the usual case: no copy
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = fmt.Appendf(b, `\x%02x`, s[i])
		case needsEscape(r, n):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b = append(b, q[1:len(q)-1]...)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

func needsEscape(r rune, n int) bool {
	return (r == utf8.RuneError && n == 1) || !unicode.IsPrint(r)
}

// hprintf is fmt.Fprintf for human output: string, error, Stringer and
// []string arguments are escaped; the format, which is ferry's own, is
// not, so its newlines and tabs still lay out the report.
func hprintf(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, format, escapeArgs(a)...)
}

func escapeArgs(a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch x := v.(type) {
		case string:
			out[i] = escape(x)
		case error:
			out[i] = escape(x.Error())
		case fmt.Stringer:
			out[i] = escape(x.String())
		case []string:
			e := make([]string, len(x))
			for j, s := range x {
				e[j] = escape(s)
			}
			out[i] = e
		default:
			out[i] = v
		}
	}
	return out
}

// escapeJSON rewrites, in encoded JSON, the runes encoding/json leaves raw
// although a terminal acts on them (DEL, C1 controls, bidi and other
// format characters) as \u escapes. Outside strings JSON is ASCII, so the
// rewrite touches string contents only, and a decoder reads back exactly
// the same values: --json stays exact and is safe to cat.
func escapeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf && b[i] != 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	out.Write(b[:i])
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		// Below DEL, encoding/json has escaped all it must; what remains
		// there is the layout's own whitespace.
		if r >= 0x7f && r != utf8.RuneError && needsEscape(r, n) {
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		} else {
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.Bytes()
}
