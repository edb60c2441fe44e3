package alert

import (
	"math"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// slotGroup is a one-column group for the tests.
var slotGroup = metric.Group{Name: "slot", Scope: metric.Server, Columns: []metric.Column{{Name: "retained_bytes", Kind: metric.Gauge, Unit: metric.Bytes}}}

var slotCheck = metric.Check{Name: "slot.retained_bytes", Help: "h", Group: "slot", Num: []string{"retained_bytes"}, Unit: metric.Bytes}

var collectionCheck = metric.Check{Name: metric.CheckCollection, Help: "h", Unit: metric.UnitFailed,
	Default: metric.Levels{Critical: metric.Range{Max: 0, HasMax: true}}}

// step is one run of a sequence: a slot's value (NaN: no value; -1: the
// slot is gone) or a failed run.
type step struct {
	v      float64
	failed bool
	want   string // the changes' texts, joined by " | "
}

const gb = 1 << 30

func TestEvaluateSequences(t *testing.T) {
	levels := metric.Levels{Warning: metric.Range{Max: 1 * gb, HasMax: true}, Critical: metric.Range{Max: 10 * gb, HasMax: true}}
	tests := []struct {
		name   string
		after  int
		repeat time.Duration
		steps  []step
	}{
		{name: "after 1: warning, critical, recovered", after: 1, steps: []step{
			{v: 0.5 * gb},
			{v: 2 * gb, want: "WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
			{v: 3 * gb},
			{v: 12.4 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 12.4 GB (critical :10 GB)"},
			{v: 0, want: "RECOVERED slot.retained_bytes on slot s1 = 0 B (was CRITICAL)"},
			{v: 0},
		}},
		{name: "after 3: two beyond are nothing", after: 3, steps: []step{
			{v: 2 * gb}, {v: 2 * gb}, {v: 0}, {v: 2 * gb}, {v: 2 * gb},
			{v: 2 * gb, want: "WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
		}},
		{name: "after 2: critical counts as warning too", after: 2, steps: []step{
			{v: 2 * gb}, {v: 20 * gb, want: "WARNING slot.retained_bytes on slot s1 = 20 GB (warning :1 GB)"},
			{v: 20 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 20 GB (critical :10 GB)"},
			{v: 2 * gb, want: "WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
		}},
		{name: "no value keeps the state", after: 1, steps: []step{
			{v: 20 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 20 GB (critical :10 GB)"},
			{v: math.NaN()}, {v: 20 * gb},
		}},
		{name: "a failed run changes only collection", after: 1, steps: []step{
			{v: 20 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 20 GB (critical :10 GB)"},
			{failed: true, want: "CRITICAL collection failed: tunnel: dial: refused"},
			{failed: true},
			{v: 0, want: "RECOVERED collection ok (was CRITICAL) | RECOVERED slot.retained_bytes on slot s1 = 0 B (was CRITICAL)"},
		}},
		{name: "a gone slot goes unknown once", after: 1, steps: []step{
			{v: 20 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 20 GB (critical :10 GB)"},
			{v: -1, want: "UNKNOWN slot.retained_bytes on slot s1: no longer reported"},
			{v: -1},
			{v: 20 * gb, want: "CRITICAL slot.retained_bytes on slot s1 = 20 GB (critical :10 GB)"},
		}},
		{name: "reminders every repeat", after: 1, repeat: 20 * time.Minute, steps: []step{
			{v: 2 * gb, want: "WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
			{v: 2 * gb},
			{v: 2 * gb, want: "still WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
			{v: 2 * gb},
			{v: 2 * gb, want: "still WARNING slot.retained_bytes on slot s1 = 2 GB (warning :1 GB)"},
			{v: 0, want: "RECOVERED slot.retained_bytes on slot s1 = 0 B (was WARNING)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows []store.AlertState
			now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
			for i, s := range tt.steps {
				in := Input{
					Now: now, Checks: []metric.Check{collectionCheck, slotCheck}, After: tt.after, Repeat: tt.repeat,
					Levels: func(c metric.Check) metric.Levels {
						if c.Name == slotCheck.Name {
							return levels
						}
						return c.Default
					},
					Values: map[string]Value{metric.CheckCollection: {V: 0}},
				}
				if s.failed {
					in.Values[metric.CheckCollection] = Value{V: 1, Detail: "tunnel: dial: refused"}
				} else {
					in.Groups, in.Samples = []metric.Group{slotGroup}, []metric.Sample{}
					if s.v != -1 {
						in.Samples = append(in.Samples, metric.Sample{Group: "slot", Key: "s1", Name: "s1", Seconds: 600, Values: []float64{s.v}})
					}
				}
				ch := Evaluate(in, rows)
				var got []string
				for _, e := range ch.Events {
					txt := e.Text
					if e.Reminder {
						txt = "still " + txt
					}
					got = append(got, txt)
				}
				if g := strings.Join(got, " | "); g != s.want {
					t.Fatalf("run %d: changes\n%q\nwant\n%q", i+1, g, s.want)
				}
				rows = apply(rows, ch)
				now = now.Add(10 * time.Minute)
			}
		})
	}
}

// apply is SaveAlerts in memory.
func apply(rows []store.AlertState, ch store.AlertChanges) []store.AlertState {
	var out []store.AlertState
	drop := map[string]bool{}
	for _, d := range ch.Delete {
		drop[d.Check+"\x00"+d.Object] = true
	}
	for _, p := range ch.Put {
		drop[p.Check+"\x00"+p.Object] = true
	}
	for _, r := range rows {
		if !drop[r.Check+"\x00"+r.Object] {
			out = append(out, r)
		}
	}
	return append(out, ch.Put...)
}

func TestMessages(t *testing.T) {
	hostile := "x\nBcc: someone@example.com"
	tests := []struct {
		name, in, want string
	}{
		{"plain", "s1", "s1"},
		{"quotes", `we"ird'db`, `"we\"ird'db"`},
		{"shell", "$(touch /tmp/x)", `"$(touch /tmp/x)"`},
		{"newline", hostile, `"x\nBcc: someone@example.com"`},
		{"empty", "", `""`},
		{"unicode", "bäckerei", `"bäckerei"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	ev := store.AlertEvent{Check: "slot_retained", State: metric.StateCritical, Display: "slot " + Escape(hostile),
		Text: "CRITICAL slot_retained on slot " + Escape(hostile) + " = 12 GB (critical :10 GB)"}
	subject := Subject("acme", []store.AlertEvent{ev, ev})
	if want := `[pggraph] acme: CRITICAL slot_retained on slot "x\nBcc: someone@example.com" = 12 GB (critical :10 GB) (+1 more)`; subject != want {
		t.Errorf("Subject = %s\nwant %s", subject, want)
	}
	msg := string(MailMessage([]string{"ops@example.com"}, subject+"\r\nBcc: evil@example.com ünï", Body("acme", "ACME\nBcc: x@y", time.Unix(0, 0), []store.AlertEvent{ev})))
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		switch name {
		case "To", "Subject", "Auto-Submitted", "MIME-Version", "Content-Type", "Content-Transfer-Encoding":
		default:
			t.Errorf("header line %q", line)
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 || m.Header.Get("Bcc") != "" || m.Header.Get("Cc") != "" {
		t.Errorf("recipients: To %v (%v), Cc %q, Bcc %q", to, err, m.Header.Get("Cc"), m.Header.Get("Bcc"))
	}
	dec, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || !strings.Contains(dec, `slot "x\nBcc: someone@example.com"`) {
		t.Errorf("subject decodes to %q (%v)", dec, err)
	}
}

func TestNotifications(t *testing.T) {
	cfg := config.Default()
	cfg.Local.Prefix, cfg.Install.Title = "acme", "ACME"
	ev := []store.AlertEvent{
		{Check: "connections_used", State: metric.StateWarning, Previous: metric.StateOK, Value: 85, Text: "WARNING connections_used = 85.0% (warning :80%)"},
		{Check: "slot_retained", Display: "slot s1", State: metric.StateOK, Previous: metric.StateCritical, Value: 0, Text: "RECOVERED slot_retained on slot s1 = 0 B (was CRITICAL)"},
	}
	tests := []struct {
		name          string
		mail, command string
		want          []string // channel: subject
	}{
		{"none", "", "", nil},
		{"mail: one for the run", "a@example.com", "", []string{"mail: [pggraph] acme: WARNING connections_used = 85.0% (warning :80%) (+1 more)"}},
		{"command: one per change", "", "/bin/true", []string{
			"command: [pggraph] acme: WARNING connections_used = 85.0% (warning :80%)",
			"command: [pggraph] acme: RECOVERED slot_retained on slot s1 = 0 B (was CRITICAL)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *cfg
			c.Alerts.Mail, c.Alerts.Command = tt.mail, tt.command
			var got []string
			for _, n := range Notifications(&c, time.Unix(0, 0), ev) {
				got = append(got, n.Channel+": "+n.Subject)
				if n.Channel == store.ChannelCommand {
					if n.Env["PGGRAPH_CLIENT"] != "acme" || n.Env["PGGRAPH_STATE"] == "" || n.Env["PGGRAPH_PREVIOUS"] == "" || n.Env["PGGRAPH_VALUE"] == "" {
						t.Errorf("env %v", n.Env)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestEvents: state changes become the client's events, reminders do not.
func TestEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	got := events([]store.AlertEvent{
		{Check: "slot_retained", Display: "slot s1", At: at, Previous: metric.StateOK, State: metric.StateWarning, Text: "WARNING slot_retained on slot s1 = 2 GB (warning :1 GB)"},
		{Check: "slot_retained", Display: "slot s1", At: at, Previous: metric.StateWarning, State: metric.StateWarning, Reminder: true, Text: "x"},
		{Check: metric.CheckCollection, At: at, Previous: metric.StateCritical, State: metric.StateOK, Text: "RECOVERED collection ok"},
	})
	want := []metric.Event{
		{Time: at, Kind: metric.EventAlert, Object: "slot_retained on slot s1", Detail: "OK → WARNING: WARNING slot_retained on slot s1 = 2 GB (warning :1 GB)"},
		{Time: at, Kind: metric.EventAlert, Object: "collection", Detail: "CRITICAL → OK: RECOVERED collection ok"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%+v\nwant\n%+v", got, want)
	}
}

// TestEvaluateGroupNotRead: a check with levels whose group the run did
// not read has no object: nothing changes, nothing fails.
func TestEvaluateGroupNotRead(t *testing.T) {
	slot, _ := metric.GroupByName("slot")
	in := Input{Now: time.Unix(0, 0), Checks: metric.Checks(), Levels: func(c metric.Check) metric.Levels { return c.Default },
		Groups: []metric.Group{slot}, Samples: []metric.Sample{}}
	if ch := Evaluate(in, nil); len(ch.Events) != 0 || len(ch.Put) != 0 {
		t.Errorf("changes %+v, want none", ch)
	}
}
