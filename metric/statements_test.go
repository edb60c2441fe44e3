package metric

import (
	"strings"
	"testing"
)

// TestStatementSQL: the SQL each server version from 12 to 18 gets reads
// the columns that version has, and only those.
func TestStatementSQL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		version   int
		has, lack []string
	}{
		{"12", 120022, []string{"s.total_time", "NULL::float8)::float8 AS plan_time", "true AS toplevel", "s.blk_read_time"}, []string{"total_exec_time", "s.wal_bytes", "s.toplevel"}},
		{"13", 130018, []string{"s.total_exec_time", "s.total_plan_time", "s.wal_bytes", "true AS toplevel"}, []string{"s.total_time", "s.toplevel"}},
		{"14", 140015, []string{"s.toplevel", "s.blk_read_time", "s.total_exec_time"}, []string{"shared_blk_read_time"}},
		{"16", 160006, []string{"s.toplevel", "s.blk_write_time"}, []string{"shared_blk_write_time"}},
		{"17", 170002, []string{"s.shared_blk_read_time + s.local_blk_read_time", "s.shared_blk_write_time + s.local_blk_write_time"}, []string{"s.blk_read_time", "s.blk_write_time"}},
		{"18", 180000, []string{"s.shared_blk_read_time", "s.toplevel", "s.wal_bytes"}, []string{"s.total_time,"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, ok := StatementSQL(tc.version)
			if !ok {
				t.Fatal("no SQL")
			}
			for _, h := range tc.has {
				if !strings.Contains(sql, h) {
					t.Errorf("SQL lacks %q:\n%s", h, sql)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(sql, l) {
					t.Errorf("SQL has %q:\n%s", l, sql)
				}
			}
			for _, c := range StatementGroup().Columns {
				if !strings.Contains(sql, " AS "+c.Name) {
					t.Errorf("SQL reads no column %s", c.Name)
				}
			}
			if !strings.Contains(sql, ExtensionSchema+".pg_stat_statements(false)") {
				t.Error("SQL reads the texts")
			}
			info := StatementInfoSQL(tc.version)
			if strings.Contains(info, "pg_stat_statements_info") != (tc.version >= 140000) {
				t.Errorf("info SQL %q", info)
			}
		})
	}
	if _, ok := StatementSQL(110000); ok {
		t.Error("SQL for 11")
	}
}
