package containerenv

import "strings"

// Expand replaces $(VAR) references in s using mapping, with the Kubernetes
// rules (third_party/forked/golang/expansion):
//
//   - $(VAR) becomes mapping(VAR); an unknown name is left as "$(VAR)"
//     (that is what MappingFor returns for it);
//   - $$ is an escaped $ and yields a single "$" ("$$(VAR)" → "$(VAR)");
//   - a $ followed by anything else, or an unclosed "$(", stays as written.
func Expand(s string, mapping func(string) string) string {
	var b strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(s); cursor++ {
		if s[cursor] != '$' || cursor+1 >= len(s) {
			continue
		}
		b.WriteString(s[checkpoint:cursor])
		read, isVar, advance := readVariable(s[cursor+1:])
		if isVar {
			b.WriteString(mapping(read))
		} else {
			b.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	return b.String() + s[checkpoint:]
}

// readVariable reads what follows a '$': the text to emit (or variable name),
// whether it is a variable, and how many bytes it consumed.
func readVariable(s string) (string, bool, int) {
	switch s[0] {
	case '$':
		return "$", false, 1
	case '(':
		if end := strings.IndexByte(s[1:], ')'); end >= 0 {
			return s[1 : end+1], true, end + 2
		}
		return "$(", false, 1
	default:
		return "$" + s[:1], false, 1
	}
}

// MappingFor looks a name up in each map in turn; names found nowhere
// expand to themselves, "$(NAME)".
func MappingFor(maps ...map[string]string) func(string) string {
	return func(name string) string {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v
			}
		}
		return "$(" + name + ")"
	}
}
