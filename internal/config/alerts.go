package config

import (
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// Alerts is [alerts]: who is told when a check changes state, and when.
type Alerts struct {
	// Mail is the addresses each notification is mailed to (through
	// /usr/sbin/sendmail -t -i), separated by commas; empty: no mail.
	// MailTo splits it.
	Mail string
	// Command, when set, is a program and its arguments, separated by
	// spaces, run without a shell once per state change: the message on
	// its stdin, PGGRAPH_* variables in its environment.
	Command string
	// After is how many consecutive samples must be beyond a threshold
	// before a check goes to WARNING or CRITICAL, 1–100 (default 2). A
	// check recovers at the first sample within.
	After int
	// Repeat is how often a reminder is sent while a check stays not OK:
	// whole minutes, 0–10080 (default 0: never). The file holds minutes.
	Repeat time.Duration
	// Levels are the per-check keys of the file: the warning and critical
	// ranges of a check, by check name. A check missing here has its
	// default levels (metric.Check.Default); use Config.Levels.
	Levels map[string]metric.Levels
}

// Levels returns the levels of check in c: its [alerts] key, or its
// default.
func (c *Config) Levels(check metric.Check) metric.Levels {
	if l, ok := c.Alerts.Levels[check.Name]; ok {
		return l
	}
	return check.Default
}

// MailTo returns the addresses of Mail, without spaces around them.
func (a Alerts) MailTo() []string {
	var out []string
	for part := range strings.SplitSeq(a.Mail, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// levelsField is the field of a per-check key of [alerts]: one entry of
// Alerts.Levels.
type levelsField struct {
	c     *Config
	check metric.Check
}

func (f *levelsField) get() string { return f.c.Levels(f.check).String() }

func (f *levelsField) set(v string) error {
	l, err := metric.ParseLevels(v)
	if err != nil {
		return err
	}
	if f.c.Alerts.Levels == nil {
		f.c.Alerts.Levels = map[string]metric.Levels{}
	}
	f.c.Alerts.Levels[f.check.Name] = l
	return nil
}

// alertKeys returns the keys of [alerts]: the contacts and timing, then
// one optional key per check of metric.Checks.
func alertKeys() []Key {
	ks := []Key{
		{Section: "alerts", Name: "mail", field: func(c *Config) any { return &c.Alerts.Mail }, check: addresses,
			Intro: "Alerts: who is told when a check of this client changes state.", Prompt: "Alert mail addresses?",
			Help: "Addresses mailed on every change of an alert's state, separated by commas, e.g. ops@example.com. Blank: no mail."},
		{Section: "alerts", Name: "command", field: func(c *Config) any { return &c.Alerts.Command }, check: absoluteIfSet,
			Prompt: "Alert command?",
			Help:   "A program run on every change, with its arguments separated by spaces (no shell): the message on stdin, PGGRAPH_CLIENT, PGGRAPH_CHECK, PGGRAPH_OBJECT, PGGRAPH_STATE, PGGRAPH_PREVIOUS and PGGRAPH_VALUE in its environment. Blank: none."},
		{Section: "alerts", Name: "after", field: func(c *Config) any { return &c.Alerts.After }, min: 1, max: 100},
		{Section: "alerts", Name: "repeat", field: func(c *Config) any { return &c.Alerts.Repeat }, unit: time.Minute, min: 0, max: 10080},
	}
	for _, ch := range metric.Checks() {
		ks = append(ks, Key{Section: "alerts", Name: ch.Name, optional: true,
			field: func(c *Config) any { return &levelsField{c: c, check: ch} }})
	}
	return ks
}

// addresses checks a list of mail addresses: each a bare address
// (user@host), so that nothing but an address reaches a mail header.
func addresses(c *Config, _ string) string {
	for _, a := range c.Alerts.MailTo() {
		p, err := mail.ParseAddress(a)
		if err != nil || p.Name != "" || p.Address != a || strings.ContainsAny(a, " \t\"\\") {
			return "bad mail address " + strconv.Quote(a) + ": write user@host, separated by commas"
		}
	}
	return ""
}
