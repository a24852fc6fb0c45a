package watch

import "unicode/utf8"

// A JSON scanner that finds an object's members without decoding them: the
// ServiceImport watch (JSON only, custom resources have no protobuf) reads an event's
// type and an object's identity with it and leaves the rest of the bytes alone, where
// encoding/json would validate and copy them all. It accepts exactly what RFC 8259
// allows for the parts it reads and is lenient only inside values it skips; anything it
// cannot read ends the scan with ok false, and the caller decodes the whole event with
// client-go instead.

// jsonMembers calls member with the key and the raw value of every member of the
// object in b, in order, until member returns false. Keys are given as written
// between their quotes (plain says they hold no escape). It reports whether b is one
// object it could read.
func jsonMembers(b []byte, member func(key []byte, plain bool, value []byte) bool) bool {
	s := jsonScan{b: b}
	s.space()
	if !s.eat('{') {
		return false
	}
	s.space()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.space()
		key, plain, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if !s.eat(':') {
			return false
		}
		s.space()
		start := s.i
		if !s.value() {
			return false
		}
		if !member(key, plain, b[start:s.i]) {
			return true
		}
		s.space()
		if s.eat('}') {
			return s.end()
		}
		if !s.eat(',') {
			return false
		}
	}
}

// jsonString returns the contents of the JSON string value v if they are plain ASCII:
// no escape, and nothing a decoder would have to check as UTF-8 (names, namespaces,
// resource versions and event types are ASCII; anything else is decoded whole).
func jsonString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	v = v[1 : len(v)-1]
	for _, c := range v {
		if c == '\\' || c >= utf8.RuneSelf {
			return v, false
		}
	}
	return v, true
}

type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (s *jsonScan) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string and returns what is between its quotes.
func (s *jsonScan) str() (contents []byte, plain bool, ok bool) {
	if !s.eat('"') {
		return nil, false, false
	}
	start, plain := s.i, true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], plain, true
		case c == '\\':
			plain = false
			s.i += 2 // the escaped character, or the u of \uXXXX (its hex digits are plain)
		case c < 0x20:
			return nil, false, false // control characters must be escaped (RFC 8259 §7)
		default:
			s.i++
		}
	}
	return nil, false, false
}

// value skips one value: a string, an object or array (with everything in it), or a
// number or literal.
func (s *jsonScan) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{', '[':
		return s.nested()
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}

// nested skips an object or array, counting brackets outside strings.
func (s *jsonScan) nested() bool {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if _, _, ok := s.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		}
		s.i++
	}
	return false
}
