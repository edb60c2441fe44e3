package config

import (
	"fmt"
	"log/slog"
)

// Secret is a password from config.ini. It never prints: fmt (every verb),
// slog and encoding/json (through MarshalText) see "[redacted]", or "" when
// it is empty, so logs still tell a blank password from a set one. Only
// Reveal returns the value. The zero value is no password.
type Secret string

const redacted = "[redacted]"

// String returns "" for an empty secret and "[redacted]" otherwise.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// LogValue makes slog print String instead of the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format prints String with the caller's verb and flags, so that no verb
// (%v %s %q %+v %#v %x …) can reach the value, also inside a struct.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalText returns String, so that encoders (encoding/json, slog's JSON
// and text handlers printing a whole Config) never see the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the password itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }
