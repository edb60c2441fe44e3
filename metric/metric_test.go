package metric

import (
	"regexp"
	"testing"
	"time"
)

func TestRetentionWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		keep Retention
		want Retention
	}{
		{"zero", Retention{}, Retention{Raw: 35 * Day, Hourly: 100 * Day, Daily: 5 * 365 * Day}},
		{"raw set", Retention{Raw: time.Hour}, Retention{Raw: time.Hour, Hourly: 100 * Day, Daily: 5 * 365 * Day}},
		{"negative", Retention{Raw: -1, Hourly: 7 * Day, Daily: -Day}, Retention{Raw: 35 * Day, Hourly: 7 * Day, Daily: 5 * 365 * Day}},
		{"all set", Retention{Raw: Day, Hourly: 2 * Day, Daily: 3 * Day}, Retention{Raw: Day, Hourly: 2 * Day, Daily: 3 * Day}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.keep.WithDefaults(); got != tc.want {
				t.Errorf("WithDefaults(%+v) = %+v, want %+v", tc.keep, got, tc.want)
			}
		})
	}
	if DefaultRetention() != (Retention{}).WithDefaults() {
		t.Error("DefaultRetention differs from a zero Retention's defaults")
	}
}

func TestValidPrefix(t *testing.T) {
	rule := regexp.MustCompile(PrefixRule)
	for _, p := range []string{
		"", "a", "acme", "acme_2", "a234567890123456789012345678901", "a2345678901234567890123456789012",
		"Acme", "1acme", "_acme", "acme-2", "acme.x", "acmé", "acme ", " acme", "a\n", "z9_", "ab\x00",
	} {
		if got, want := ValidPrefix(p), rule.MatchString(p); got != want {
			t.Errorf("ValidPrefix(%q) = %v, the rule says %v", p, got, want)
		}
	}
}

func FuzzValidPrefix(f *testing.F) {
	rule := regexp.MustCompile(PrefixRule)
	for _, s := range []string{"acme", "Acme", "a_1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidPrefix(p) != rule.MatchString(p) {
			t.Errorf("ValidPrefix(%q) disagrees with %s", p, PrefixRule)
		}
	})
}
