package metric

import (
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
