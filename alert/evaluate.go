package alert

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Input is what one evaluation of a client's checks looks at.
type Input struct {
	Now time.Time
	// Checks are the checks to evaluate (normally metric.Checks()), and
	// Levels gives each its levels (normally config.Config.Levels).
	Checks []metric.Check
	Levels func(metric.Check) metric.Levels
	// After is how many consecutive samples beyond a range turn a check
	// WARNING or CRITICAL (at least 1); Repeat the time between reminders
	// (0: none).
	After  int
	Repeat time.Duration
	// Only, when set, limits the evaluation to the checks named (stale).
	Only []string
	// Values are the values of the checks of the collection itself, by
	// name (collection, stale), with their text.
	Values map[string]Value
	// Groups and Samples are the run's metric groups and samples; nil
	// when the run wrote none (a failed or a first run): the checks of
	// metric groups are then left as they are.
	Groups  []metric.Group
	Samples []metric.Sample
}

// Value is a check's value with what the message says of it.
type Value struct {
	V      float64
	Detail string // e.g. the failed run's error; "" for none
}

// Change is one notification-worthy event of an evaluation: a state
// change, or a reminder.
type Change = store.AlertEvent

// Evaluate applies one run's values to the client's current states (the
// rows of alert_state) and returns what to write: the new rows, the rows
// that went back to OK, and the changes to notify, worst first.
//
// A check goes WARNING (CRITICAL) after After consecutive samples beyond
// its warning (critical) range, and back down at the first sample within.
// A value that cannot be computed leaves the state as it is. An object
// that is no longer reported goes UNKNOWN if it was not OK, and its row is
// dropped at the next run. A reminder repeats a state that is not OK every
// Repeat.
func Evaluate(in Input, prev []store.AlertState) store.AlertChanges {
	if in.After < 1 {
		in.After = 1
	}
	e := evaluation{in: in, prev: map[stateKey]store.AlertState{}, seen: map[stateKey]bool{}}
	for _, p := range prev {
		e.prev[stateKey{p.Check, p.Object}] = p
	}
	only := map[string]bool{}
	for _, n := range in.Only {
		only[n] = true
	}
	groups := map[string]*groupData{}
	if in.Samples != nil {
		groups = index(in.Groups, in.Samples)
	}
	evaluated := map[string]bool{}
	for _, c := range in.Checks {
		if len(only) > 0 && !only[c.Name] {
			continue
		}
		levels := in.Levels(c)
		if c.Group == "" {
			v, ok := in.Values[c.Name]
			if !ok {
				continue
			}
			evaluated[c.Name] = true
			after := in.After
			if c.Name == metric.CheckStale {
				after = 1 // its value is a duration already
			}
			e.apply(c, levels, after, object{}, v)
			continue
		}
		g, ok := groups[c.Group]
		if in.Samples == nil || (!ok && !levels.Warning.Set() && !levels.Critical.Set()) {
			continue
		}
		if !ok {
			g = &groupData{} // not in the run: no object of it seen
		}
		evaluated[c.Name] = true
		if !levels.Warning.Set() && !levels.Critical.Set() {
			continue // no levels: every row left of it recovers below
		}
		for i := range g.samples {
			s := &g.samples[i]
			v := c.Value(g.cols, g.counters, s)
			e.apply(c, levels, in.After, g.object(s), Value{V: v})
		}
	}
	// Rows of evaluated checks whose objects were not seen.
	for k, p := range e.prev {
		if !evaluated[k.check] || e.seen[k] {
			continue
		}
		c, _ := metric.LookupCheck(in.Checks, k.check)
		levels := in.Levels(c)
		switch {
		case p.State == metric.StateOK || p.State == metric.StateUnknown:
			e.out.Delete = append(e.out.Delete, p)
		case !levels.Warning.Set() && !levels.Critical.Set():
			e.change(p, metric.StateOK, "", false)
			e.out.Delete = append(e.out.Delete, p)
		default:
			n := p
			n.WarnCount, n.CritCount = 0, 0
			n.Value = math.NaN()
			e.change(n, metric.StateUnknown, "no longer reported", false)
		}
	}
	sortChanges(e.out.Events)
	return e.out
}

type stateKey struct{ check, object string }

type evaluation struct {
	in   Input
	prev map[stateKey]store.AlertState
	seen map[stateKey]bool
	out  store.AlertChanges
}

// object is what a state row says of its object.
type object struct {
	id, group, db, name, display string
}

// apply evaluates one value of check c for one object.
func (e *evaluation) apply(c metric.Check, levels metric.Levels, after int, o object, v Value) {
	k := stateKey{c.Name, o.id}
	e.seen[k] = true
	p, had := e.prev[k]
	if !had {
		p = store.AlertState{Check: c.Name, Object: o.id, State: metric.StateOK, Since: e.in.Now}
	}
	p.Group, p.DB, p.Name, p.Display = o.group, o.db, o.name, o.display
	if math.IsNaN(v.V) {
		return // no value: the state stays as it is
	}
	raw := levels.Classify(v.V)
	n := p
	n.Value = v.V
	n.WarnCount, n.CritCount = 0, 0
	if raw >= metric.StateWarning {
		n.WarnCount = p.WarnCount + 1
	}
	if raw == metric.StateCritical {
		n.CritCount = p.CritCount + 1
	}
	target := metric.StateOK
	switch {
	case n.CritCount >= after:
		target = metric.StateCritical
	case n.WarnCount >= after:
		target = metric.StateWarning
	}
	text := Line(c, levels, target, n.Display, v)
	switch {
	case target != p.State:
		e.change(n, target, text, false)
	case target != metric.StateOK && e.in.Repeat > 0 && !p.Notified.IsZero() && e.in.Now.Sub(p.Notified) >= e.in.Repeat:
		e.change(n, target, text, true)
	default:
		n.Text, n.Updated = text, e.in.Now
		e.keep(n)
	}
}

// change records a change of n to state (or a reminder of it) and its
// row.
func (e *evaluation) change(n store.AlertState, state metric.State, text string, reminder bool) {
	prev := n.State
	switch {
	case state == metric.StateOK && text == "":
		text = "RECOVERED " + subjectOf(n) + " (was " + prev.String() + ")"
	case state == metric.StateOK:
		text = "RECOVERED " + strings.TrimPrefix(text, "OK ") + " (was " + prev.String() + ")"
	case state == metric.StateUnknown:
		text = "UNKNOWN " + subjectOf(n) + ": " + text
	}
	if !reminder {
		n.Since = e.in.Now
	}
	n.State, n.Text, n.Updated, n.Notified = state, text, e.in.Now, e.in.Now
	e.out.Events = append(e.out.Events, store.AlertEvent{
		Check: n.Check, Object: n.Object, Display: n.Display, At: e.in.Now,
		State: state, Previous: prev, Value: n.Value, Text: text, Reminder: reminder,
	})
	e.keep(n)
}

// keep writes n, or deletes its row when it is OK with nothing counted.
func (e *evaluation) keep(n store.AlertState) {
	if n.State == metric.StateOK && n.WarnCount == 0 && n.CritCount == 0 {
		if _, had := e.prev[stateKey{n.Check, n.Object}]; had {
			e.out.Delete = append(e.out.Delete, n)
		}
		return
	}
	e.out.Put = append(e.out.Put, n)
}

// subjectOf is "check on object".
func subjectOf(n store.AlertState) string {
	if n.Display == "" {
		return n.Check
	}
	return n.Check + " on " + n.Display
}

// groupData is one group's samples with what a check needs to read them.
type groupData struct {
	group    metric.Group
	cols     []string
	counters []bool
	samples  []metric.Sample
	dbNames  map[uint32]string
}

// index sorts the samples by group.
func index(groups []metric.Group, samples []metric.Sample) map[string]*groupData {
	out := map[string]*groupData{}
	dbNames := map[uint32]string{}
	for _, g := range groups {
		d := &groupData{group: g, dbNames: dbNames}
		for _, c := range g.Columns {
			d.cols = append(d.cols, c.Name)
			d.counters = append(d.counters, c.Kind == metric.Counter)
		}
		out[g.Name] = d
	}
	for _, s := range samples {
		if d, ok := out[s.Group]; ok {
			d.samples = append(d.samples, s)
		}
		if s.Group == "database" {
			if oid, err := strconv.ParseUint(s.Key, 10, 32); err == nil {
				dbNames[uint32(oid)] = s.Name
			}
		}
	}
	return out
}

// nouns name the objects of groups whose name does not.
var nouns = map[string]string{"activity": "database", "replication": "standby", "wal_receiver": "wal receiver"}

// object describes the object of a sample of g.
func (g *groupData) object(s *metric.Sample) object {
	o := object{
		id:    s.Group + "/" + strconv.FormatUint(uint64(s.Database), 10) + "/" + s.Key,
		group: s.Group, name: s.Name, db: g.dbNames[s.Database],
	}
	if s.Name == s.Group {
		return o // a server-wide singleton: server, wal, archiver, bgwriter
	}
	noun := nouns[s.Group]
	if noun == "" {
		noun = s.Group
	}
	o.display = noun + " " + Escape(s.Name)
	if s.Database != 0 {
		db := o.db
		if db == "" {
			db = strconv.FormatUint(uint64(s.Database), 10)
		}
		o.display += " in database " + Escape(db)
	}
	return o
}
