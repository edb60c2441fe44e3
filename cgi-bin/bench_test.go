package main

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// BenchmarkOverviewInChromium loads the overview page (its graphs are
// images, each one more CGI request) through Apache and Basic auth in a
// cold headless Chromium: a new profile every time, so no cache. In the
// same loop it times Chromium on a data: URL, which costs the browser's
// own start and shutdown, and reports the difference as the page's load
// time (target < 1 s).
func BenchmarkOverviewInChromium(b *testing.B) {
	a := webSite(b)
	u, err := url.Parse(a.URL + base)
	if err != nil {
		b.Fatal(err)
	}
	u.User = url.UserPassword("alice", alicePassword)
	dir := b.TempDir()
	blank := "data:text/html,<p>pggraph</p>"
	var page, browser time.Duration
	for b.Loop() {
		start := time.Now()
		if err := rig.Screenshot(b.Context(), blank, filepath.Join(dir, "blank.png")); err != nil {
			b.Fatal(err)
		}
		browser += time.Since(start)
		start = time.Now()
		if err := rig.Screenshot(b.Context(), u.String(), filepath.Join(dir, "overview.png")); err != nil {
			b.Fatal(err)
		}
		page += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(page.Milliseconds())/n, "chromium+page-ms")
	b.ReportMetric(float64(browser.Milliseconds())/n, "chromium-only-ms")
	b.ReportMetric(float64((page-browser).Milliseconds())/n, "page-load-ms")
	b.ReportMetric(float64(len(imagesOn(b, a))), "images")
}

// imagesOn counts the images of the overview page.
func imagesOn(b *testing.B, a *rig.Apache) []string {
	b.Helper()
	_, body := fetch(b, a, base, "alice", alicePassword)
	all, _ := images(body)
	return all
}
