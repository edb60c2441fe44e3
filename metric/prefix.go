package metric

// PrefixRule is the rule of a client's table prefix, as a regular
// expression: a lower-case letter, then up to 30 lower-case letters,
// digits or _, so that the longest table name, <prefix>_<group>_hour,
// fits PostgreSQL's 63-byte identifiers. ValidPrefix applies it.
const PrefixRule = `^[a-z][a-z0-9_]{0,30}$`

// maxPrefix is the longest prefix PrefixRule allows.
const maxPrefix = 31

// ValidPrefix tells whether p follows PrefixRule.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefix || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
