package graph

import (
	"math"
	"math/rand/v2"
	"time"
)

// synth makes the data of graph name over r, as Load would return it at
// the resolution r's span chooses (with now = r.To): smooth daily and
// weekly waves with noise, deterministic for a seed, and a gap (NaN
// counters, as after a reset) where gapAt falls.
func synth(name string, r Range, seed uint64, gapAt time.Time) *Data {
	sp, ok := lookup(name)
	if !ok {
		panic("synth: unknown graph " + name)
	}
	q := Query{Graph: name, DB: "app", Table: "public.orders", Range: r}
	res := resolution(r)
	step := bucketWidth(r, defaultWidth, res)
	interval := 10 * time.Minute
	if step > interval {
		interval = step
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	d := &Data{Def: sp.def(), Query: q, Resolution: string(res)}
	rate := perSecond(sp.unit)
	for li, l := range sp.lines {
		s := Series{Label: l.label}
		base := 50 * math.Pow(4, float64(len(sp.lines)-li-1))
		for t := r.From.Truncate(interval).Add(interval); t.Before(r.To); t = t.Add(interval) {
			h := float64(t.Unix()%86400) / 86400
			wday := float64(t.Unix()%(7*86400)) / (7 * 86400)
			v := base * (1.5 + math.Sin(2*math.Pi*(h-0.3)) + 0.3*math.Sin(2*math.Pi*wday)) * (0.85 + 0.3*rng.Float64())
			secs := interval.Seconds()
			p := Point{T: t, Seconds: secs, V: v, Min: v * 0.8, Max: v * 1.2}
			switch {
			case l.percent:
				p.V = 40 + 0.01*float64(t.Sub(r.From).Hours()) + 5*math.Sin(2*math.Pi*h)
				p.Min, p.Max = p.V-1, p.V+1
			case l.other != "":
				p.V = 96.5 + 2.5*math.Sin(2*math.Pi*h) + rng.Float64()
				p.Min, p.Max = math.NaN(), math.NaN()
			case sp.unit == UnitBytes:
				p.V = 3.2e9 + float64(t.Sub(r.From).Hours())*1e6*(1+float64(li)) + rng.Float64()*5e6
			case rate:
				p.V = v * secs // the amount in the interval
			}
			if !gapAt.IsZero() && !t.Before(gapAt) && t.Before(gapAt.Add(3*interval)) {
				p.V = math.NaN()
			}
			s.Points = append(s.Points, p)
		}
		d.Series = append(d.Series, s)
	}
	return d
}

// ranges returns the four named ranges ending at end.
func ranges(end time.Time) map[string]Range {
	out := map[string]Range{}
	for _, n := range []string{RangeDay, RangeWeek, RangeMonth, RangeYear} {
		r, err := ParseRange(n, "", "", end)
		if err != nil {
			panic(err)
		}
		out[n] = r
	}
	return out
}
