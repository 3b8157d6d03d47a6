package dataset

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// The functions here walk JSON text that encoding/json has already
// validated (one value, no syntax errors), so they need no error paths for
// malformed input beyond staying in bounds.

// isSpace reports JSON white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"'
// and whether it contains escapes.
func stringEnd(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(b), esc
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}

// eachMember calls fn for each member of the object b (which starts with
// '{'), with the raw key (quotes included) and the raw value.
func eachMember(b []byte, fn func(key, val []byte)) {
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		kend, _ := stringEnd(b, i)
		key := b[i:kend]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return
		}
		v := skipSpace(b, i+1)
		vend := valueEnd(b, v)
		fn(key, b[v:vend])
		i = skipSpace(b, vend)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipSpace(b, i+1)
	}
}

// unquote returns the value of a JSON string (quotes included) that is
// known to be valid JSON and valid UTF-8. Escapes decode as encoding/json
// decodes them: a \\u escape of a lone or mismatched surrogate becomes
// U+FFFD.
func unquote(s []byte) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	s = s[1 : len(s)-1]
	i := bytes.IndexByte(s, '\\')
	if i < 0 {
		return string(s), nil
	}
	out := make([]byte, 0, len(s))
	for {
		out = append(out, s[:i]...)
		s = s[i:]
		if len(s) < 2 {
			return "", errors.New("bad escape")
		}
		switch c := s[1]; c {
		case '"', '\\', '/':
			out = append(out, c)
			s = s[2:]
		case 'b':
			out, s = append(out, '\b'), s[2:]
		case 'f':
			out, s = append(out, '\f'), s[2:]
		case 'n':
			out, s = append(out, '\n'), s[2:]
		case 'r':
			out, s = append(out, '\r'), s[2:]
		case 't':
			out, s = append(out, '\t'), s[2:]
		case 'u':
			r := hex4(s)
			if r < 0 {
				return "", errors.New("bad \\u escape")
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if r2 := hex4(s); r2 >= 0 {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						s = s[6:]
						break
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errors.New("bad escape")
		}
		i = bytes.IndexByte(s, '\\')
		if i < 0 {
			out = append(out, s...)
			return string(out), nil
		}
	}
}

// hex4 decodes the \\uXXXX escape at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// keyName returns the name of a raw key.
func keyName(k []byte) string {
	s, err := unquote(k)
	if err != nil {
		return ""
	}
	return s
}
