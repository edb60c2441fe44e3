package alert

import (
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Escape returns a name taken from a client's server as messages and
// pages show it: as it is when it holds only letters, digits and _ . -,
// else Go-quoted, so that quotes, spaces, shell syntax and line breaks
// show as what they are and never start a new line.
func Escape(name string) string {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// Line is a check's state as one line: `CRITICAL slot_retained on slot
// s1 = 12.4 GB (critical :10 GB)`.
func Line(c metric.Check, levels metric.Levels, state metric.State, display string, v Value) string {
	var b strings.Builder
	b.WriteString(state.String() + " " + c.Name)
	if display != "" {
		b.WriteString(" on " + display)
	}
	switch c.Name {
	case metric.CheckCollection:
		if v.V > 0 {
			b.WriteString(" failed")
		} else {
			b.WriteString(" ok")
		}
	default:
		b.WriteString(" = " + metric.FormatValue(v.V, c.Unit))
	}
	switch {
	case c.Name == metric.CheckCollection:
	case state == metric.StateCritical:
		b.WriteString(" (critical " + metric.FormatRange(levels.Critical, c.Unit) + ")")
	case state == metric.StateWarning:
		b.WriteString(" (warning " + metric.FormatRange(levels.Warning, c.Unit) + ")")
	}
	if v.Detail != "" && state != metric.StateOK {
		b.WriteString(": " + oneLine(v.Detail))
	}
	return b.String()
}

// oneLine keeps a detail (an error) on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

// sortChanges puts the worst changes first: CRITICAL, WARNING, UNKNOWN,
// then recoveries; reminders after changes; then by check and object.
func sortChanges(cs []store.AlertEvent) {
	slices.SortStableFunc(cs, func(a, b store.AlertEvent) int {
		if a.Reminder != b.Reminder {
			if a.Reminder {
				return 1
			}
			return -1
		}
		if a.State != b.State {
			return int(b.State) - int(a.State)
		}
		if a.Check != b.Check {
			return strings.Compare(a.Check, b.Check)
		}
		return strings.Compare(a.Object, b.Object)
	})
}

// maxSubject bounds a subject line, in bytes before encoding.
const maxSubject = 200

// Subject is a message's subject: the first (worst) change, and how many
// more there are: `[pggraph] acme: CRITICAL slot_retained on slot s1 =
// 12.4 GB (critical :10 GB) (+2 more)`.
func Subject(client string, cs []store.AlertEvent) string {
	s := "[pggraph] " + client + ": "
	if len(cs) == 0 {
		return s + "no change"
	}
	first := cs[0].Text
	if cs[0].Reminder {
		first = "still " + first
	}
	s += first
	if len(cs) > 1 {
		s += fmt.Sprintf(" (+%d more)", len(cs)-1)
	}
	if len(s) > maxSubject {
		cut := maxSubject
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Body is a message's text: one line per change, then the reminders.
func Body(client, title string, at time.Time, cs []store.AlertEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pggraph, client %s (%s), %s:\n\n", client, Escape(title), at.UTC().Format("2006-01-02 15:04 UTC"))
	reminders := false
	for _, c := range cs {
		if c.Reminder && !reminders {
			b.WriteString("\nstill not OK:\n")
			reminders = true
		}
		b.WriteString("  " + c.Text + "\n")
	}
	b.WriteString("\npggraph-admin alerts " + client + " lists every alert of the client that is not OK.\n")
	return b.String()
}

// MailMessage is the message sendmail -t reads: To from addrs (checked
// by config: bare addresses), the subject encoded as RFC 2047 when it is
// not plain ASCII, the body as UTF-8. No value reaches a header with a
// line break.
func MailMessage(to []string, subject, body string) []byte {
	var b strings.Builder
	b.WriteString("To: " + strings.Join(to, ", ") + "\r\n")
	b.WriteString("Subject: " + headerValue(subject) + "\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	b.WriteString("\r\n")
	for line := range strings.SplitSeq(strings.TrimRight(body, "\n"), "\n") {
		b.WriteString(strings.TrimRight(line, "\r") + "\r\n")
	}
	return []byte(b.String())
}

// headerValue makes s safe as a header's value: control characters
// become spaces and a non-ASCII value is Q-encoded.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	for _, r := range s {
		if r >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}
