package main

import (
	"context"

	"github.com/pggraph/pggraph/internal/store"
)

// activeAlerts is what the banner needs of the central database;
// *store.Store implements it (fakes of samples may not: no banner).
type activeAlerts interface {
	ActiveAlerts(ctx context.Context, prefix string) ([]store.AlertState, error)
}

// alertsPrefetcher reads the banner's alerts in the background, while
// the page reads the rest; *store.Store implements it.
type alertsPrefetcher interface {
	PrefetchAlerts(ctx context.Context, prefix string)
}

// alertLink is one line of a client page's banner of active alerts.
type alertLink struct {
	State string // CRITICAL, WARNING, UNKNOWN: the line's class too
	Text  string
	Href  string // the page of the alert's database, or the overview
}

// banner returns the client's alerts that are not OK, worst first, each
// linking to the page that graphs it.
func (h *handler) banner(ctx context.Context, src samples, base string, keep []string) []alertLink {
	a, ok := src.(activeAlerts)
	if !ok {
		return nil
	}
	active, err := a.ActiveAlerts(ctx, h.site.Prefix)
	if err != nil {
		return []alertLink{{State: "UNKNOWN", Text: "alerts could not be read: " + err.Error(), Href: query(base, keep...)}}
	}
	var out []alertLink
	for _, x := range active {
		kv := append([]string{}, keep...)
		if x.DB != "" {
			kv = append(kv, "page", pageTables, "db", x.DB)
		}
		out = append(out, alertLink{State: x.State.String(), Text: x.Text, Href: query(base, kv...)})
	}
	return out
}
