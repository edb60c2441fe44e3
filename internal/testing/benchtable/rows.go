package benchtable

// Scales from the units benchmarks report.
const (
	nsToMS = 1e-6
	nsToS  = 1e-9
	msToS  = 1e-3
)

// Rows are pggraph's table: first the figures with targets (the CGI
// against rrdtool, pages in Chromium, ab through Apache, one collection
// against psql through ssh, -all over 100 clients, storage, peak RSS),
// then every other benchmark of the project.
func Rows() []Row {
	var rows []Row
	for _, rng := range []struct {
		name string
		max  float64
	}{{"day", 0.4}, {"week", 0.7}, {"month", 0.7}, {"year", 0.4}} {
		rows = append(rows, fcgiRow("socket", rng.name, "central DB over the local socket", []Check{{Ratio: true, Op: "<=", Value: rng.max}}))
	}
	for _, rng := range []string{"day", "year"} {
		rows = append(rows, cgiRow("socket", rng, "central DB over the local socket", nil))
	}
	rows = append(rows,
		peakRow("pggraph.cgi's FastCGI server after every range's images, a year last", "CGIVsRRDtool/socket/year", "fcgi-peak-MB", Check{Op: "<", Value: 40}),
		peakRow("pggraph.cgi as a CGI drawing a year", "CGIVsRRDtool/socket/year", "cgi-peak-MB", Check{Op: "<", Value: 40}),
		chromiumRow("overview page (its images)", "OverviewInChromium"),
		chromiumRow("tables page of a client with max_images = 10 (its database graphs and 10 tables' images)", "TablesInChromium"),
		Row{
			What:    "ab -n 2000 -c 20 on a graph image through Apache with the session of a login on the form",
			Figure:  Metric{Bench: "ApacheAB/session", Unit: "req/s", Show: "requests/s"},
			Targets: []Check{{Op: ">=", Value: 100}},
		},
		Row{
			What:   "ab -n 200 -c 20 on that image with Basic auth (a bcrypt check at cost 10 each)",
			Figure: Metric{Bench: "ApacheAB/basic", Unit: "req/s", Show: "requests/s"},
		},
		Row{
			What:    "the all-clients page over 1,000 clients: the whole pggraph.cgi process as Apache starts it for an operator (median)",
			Figure:  Metric{Bench: "ClientsPage", Unit: "page-ms", Show: "ms"},
			Extra:   []Metric{{Bench: "ClientsPage", Unit: "KB", Show: "KB"}, {Bench: "ClientsPage", Unit: "clients", Show: "clients", Count: true}},
			Targets: []Check{{Op: "<", Value: 200}},
		},
		vsRow("one collection, 5 databases × 1,000 tables, twin tunnel: pggraph-collect ÷ the same queries with psql through ssh -L",
			"Collect", "ms-collect", "ms-psql-ssh", "ratio", msToS, "s").
			with([]Metric{{Bench: "Collect", Unit: "rows/run", Show: "rows", Count: true}}, Check{Ratio: true, Op: "<=", Value: 1.2}, Check{Op: "<", Value: 3}),
		peakRow("pggraph-collect in that collection", "Collect", "MB-peak-RSS"),
		vsRow("alert evaluation after that collection (every check on every object, states saved), same run: evaluate ÷ collect, ratio (collect + evaluate) ÷ collect",
			"AlertCost", "ms-evaluate", "ms-collect", "with/without", 1, "ms").
			with([]Metric{{Bench: "AlertCost", Unit: "objects", Show: "objects", Count: true}}, Check{Ratio: true, Op: "<=", Value: 1.05}),
		Row{
			What:    "pggraph-collect -all over 100 typical clients (5 databases, 100 tables, 200 indexes; twin tunnel; -jobs 4)",
			Figure:  Metric{Bench: "CollectAll", Unit: "s-total", Show: "s"},
			Extra:   []Metric{{Bench: "CollectAll", Unit: "ms/client", Show: "ms per client"}},
			Targets: []Check{{Op: "<", Value: 600}},
		},
		peakRow("pggraph-collect -all over those 100 clients", "CollectAll", "MB-peak-RSS"),
		Row{
			What:   "central storage of a typical client after a year (default retention: raw 35 d, hourly 100 d, daily 1825 d)",
			Figure: Metric{Bench: "Storage", Unit: "MB/client-year", Show: "MB"},
			Extra: []Metric{
				{Bench: "Storage", Unit: "MB-steady", Show: "MB", Label: "from year 5 on "},
				{Bench: "Storage", Unit: "B/raw-row", Show: "B", Label: "raw row "},
				{Bench: "Storage", Unit: "B/hour-row", Show: "B", Label: "hourly row "},
				{Bench: "Storage", Unit: "B/day-row", Show: "B", Label: "daily row "},
				{Bench: "Storage", Unit: "objects", Show: "objects", Count: true},
			},
		},
	)
	rows = append(rows, statementRows()...)
	for _, rng := range []string{"day", "week", "month", "year"} {
		rows = append(rows, cgiRow("tcp", rng, "central DB over TCP with a SCRAM login", nil))
	}
	for _, hops := range []string{"direct", "twin"} {
		rows = append(rows,
			Row{What: "open a tunnel, " + hops, Figure: Metric{Bench: "Open/" + hops, Unit: "ns/op", Scale: nsToMS, Show: "ms"}},
			vsRow("100 small queries on one connection, "+hops+" tunnel ÷ no tunnel",
				"Queries100/"+hops, "ms-tunnel/100q", "ms-no-tunnel/100q", "ratio", 1, "ms"))
	}
	rows = append(rows,
		vsRow("store: write one run of 15,000 samples ÷ a plain COPY of the rows", "Write", "ns/op", "copy-ns/op", "x-copy", nsToMS, "ms"),
		Row{What: "store: rollup maintenance per run, typical client", Figure: Metric{Bench: "Maintain/typical", Unit: "ns/op", Scale: nsToMS, Show: "ms"}},
		Row{What: "store: rollup maintenance per run, 15,000 objects", Figure: Metric{Bench: "Maintain/large", Unit: "ns/op", Scale: nsToMS, Show: "ms"}},
		vsRow("store: rebuild 35 days of rollups ÷ copying the raw rows", "Rebuild", "ns/op", "copy-ns", "x-copy", nsToS, "s").
			with([]Metric{{Bench: "Rebuild", Unit: "raw-rows", Show: "raw rows", Count: true}}),
		Row{
			What:   "store: save and load a 15,000-row snapshot",
			Figure: Metric{Bench: "State", Unit: "ns/op", Scale: nsToMS, Show: "ms"},
			Extra:  []Metric{{Bench: "State", Unit: "bytes", Scale: 1e-6, Show: "MB"}},
		},
		Row{What: "store: encode and decode that snapshot in memory", Figure: Metric{Bench: "SnapshotCodec", Unit: "ns/op", Scale: nsToMS, Show: "ms"}},
	)
	for _, rng := range []string{"day", "week", "month", "year", "year-raw-52k"} {
		rows = append(rows, Row{
			What:   "graph: chart + PNG in process, " + rng,
			Figure: Metric{Bench: "PNG/" + rng, Unit: "ns/op", Scale: nsToMS, Show: "ms"},
			Extra:  []Metric{{Bench: "PNG/" + rng, Unit: "points/line", Show: "points per line", Count: true}},
		})
	}
	for _, rng := range []struct {
		name string
		max  float64
	}{{"day", 0.7}, {"week", 0.7}, {"month", 0.7}, {"year", 1.0}} {
		bench := "VsRRDtool/" + rng.name
		rows = append(rows, vsRow("graph: the render helper process (read CSV, draw, write PNG) ÷ rrdtool graph on the same points, "+rng.name,
			bench, "go-ms", "rrd-ms", "go/rrd", 1, "ms").
			with([]Metric{{Bench: bench, Unit: "go-peak-MB", Show: "MB peak"}}, Check{Ratio: true, Op: "<=", Value: rng.max}))
	}
	for _, rng := range []string{"day", "week", "month", "year"} {
		rows = append(rows, vsRow("graph: the render helper process with 20 events and the previous period ÷ the same graph without, "+rng,
			"EventsCost/"+rng, "with-ms", "base-ms", "with/base", 1, "ms").with(nil, Check{Ratio: true, Op: "<=", Value: 1.15}))
	}
	return rows
}

// chromiumRow is a page loaded in a cold headless Chromium after a login
// on the form and the browser's own start: from asking for it to its
// load event.
func chromiumRow(page, bench string) Row {
	return Row{
		What: page + " through Apache and the FastCGI server, in a cold headless Chromium after one login on the form (web users at bcrypt cost 10) and its own start; " +
			"the images drawn by the server after a new collection, as it draws those of the pages shown in the last day; baseline: the same page and images as static files",
		Figure: Metric{Bench: bench, Unit: "page-load-ms", Show: "ms"},
		// The baseline: the same page and images as static files, no
		// Apache, no pggraph: Chromium's own time for them.
		Baseline: Metric{Bench: bench, Unit: "static-ms", Show: "ms"},
		Extra: []Metric{{Bench: bench, Unit: "page-load-undrawn-ms", Show: "ms", Label: "nothing drawn yet, the images drawn as the page is read "},
			{Bench: bench, Unit: "chromium-only-ms", Show: "ms", Label: "Chromium's own start and login "},
			{Bench: bench, Unit: "images", Show: "images", Count: true}},
		Targets: []Check{{Op: "<", Value: 300}},
	}
}

// peakRow is the peak RSS, in MB, of the process what names.
func peakRow(what, bench, unit string, targets ...Check) Row {
	return Row{What: "peak RSS of " + what, Figure: Metric{Bench: bench, Unit: unit, Show: "MB"}, Targets: targets}
}

// fcgiRow is one range of BenchmarkCGIVsRRDtool over one transport, as
// pggraph.conf serves it by default: pggraph.cgi's FastCGI server.
func fcgiRow(transport, rng, how string, targets []Check) Row {
	bench := "CGIVsRRDtool/" + transport + "/" + rng
	return vsRow("one graph image, "+rng+": a request to pggraph.cgi's FastCGI server (pggraph.conf's default), to its last byte ÷ rrdtool graph ("+how+")",
		bench, "fcgi-ms", "rrd-ms", "fcgi/rrd", 1, "ms").
		with([]Metric{{Bench: bench, Unit: "fcgi-cpu-ms", Show: "ms", Label: "CPU "},
			{Bench: bench, Unit: "fcgi-cached-ms", Show: "ms", Label: "from the image cache "}}, targets...)
}

// cgiRow is one range of BenchmarkCGIVsRRDtool over one transport, as a
// CGI: a process per image (pggraph.conf with PGGRAPH_CGI).
func cgiRow(transport, rng, how string, targets []Check) Row {
	bench := "CGIVsRRDtool/" + transport + "/" + rng
	return vsRow("one graph image, "+rng+", as a CGI (PGGRAPH_CGI): the pggraph.cgi process ÷ rrdtool graph ("+how+")",
		bench, "cgi-ms", "rrd-ms", "cgi/rrd", 1, "ms").
		with([]Metric{{Bench: bench, Unit: "cgi-cpu-ms", Show: "ms", Label: "CPU "},
			{Bench: bench, Unit: "cached-ms", Show: "ms", Label: "from the CGI's cache "},
			{Bench: bench, Unit: "cached-cpu-ms", Show: "ms", Label: "its CPU "}}, targets...)
}

// vsRow compares a figure with a baseline of the same benchmark, both in
// units scaled by scale and shown as show, with the benchmark's own ratio.
func vsRow(what, bench, figure, baseline, ratio string, scale float64, show string) Row {
	return Row{
		What:     what,
		Figure:   Metric{Bench: bench, Unit: figure, Scale: scale, Show: show},
		Baseline: Metric{Bench: bench, Unit: baseline, Scale: scale, Show: show},
		Ratio:    Metric{Bench: bench, Unit: ratio},
	}
}

// with returns r with extra figures and targets added.
func (r Row) with(extra []Metric, targets ...Check) Row {
	r.Extra = append(r.Extra, extra...)
	r.Targets = append(r.Targets, targets...)
	return r
}

// statementRows are pg_stat_statements': what collecting them adds to a
// run, the queries page over a month, their storage per client-year.
func statementRows() []Row {
	return []Row{
		{
			What:   "collecting 5,000 distinct statements of one database through the twin tunnel: a run with [remote] queries = yes − the same run with queries = no (1,000 tables)",
			Figure: Metric{Bench: "CollectStatements", Unit: "ms-added", Scale: msToS, Show: "s"},
			Extra: []Metric{{Bench: "CollectStatements", Unit: "ms-queries-yes", Scale: msToS, Show: "s", Label: "with "},
				{Bench: "CollectStatements", Unit: "ms-queries-no", Scale: msToS, Show: "s", Label: "without "},
				{Bench: "CollectStatements", Unit: "rows/run", Show: "statement rows a run", Count: true}},
			Targets: []Check{{Op: "<=", Value: 1}},
		},
		{
			What:   "the queries page of a database over a month (3 databases × 300 statements, top_queries = 100, a run every 10 minutes): the pggraph.cgi process, central DB over TCP with a SCRAM login",
			Figure: Metric{Bench: "QueriesPage", Unit: "page-ms", Show: "ms"},
			Extra: []Metric{{Bench: "QueriesPage", Unit: "page-fcgi-ms", Show: "ms", Label: "from pggraph.cgi's FastCGI server (pggraph.conf's default) "},
				{Bench: "QueriesPage", Unit: "hour-rows", Show: "hourly rows", Count: true},
				{Bench: "QueriesPage", Unit: "statements", Show: "statements listed", Count: true}},
			Targets: []Check{{Op: "<", Value: 150}},
		},
		{
			What:   "central storage of that client's statement tables after a year (defaults: top_queries 100, raw 35 d, hourly 100 d, daily 1825 d)",
			Figure: Metric{Bench: "StatementStorage", Unit: "MB/client-year", Show: "MB"},
			Extra: []Metric{{Bench: "StatementStorage", Unit: "MB-steady", Show: "MB", Label: "from year 5 on "},
				{Bench: "StatementStorage", Unit: "rows/run", Show: "rows a run", Count: true},
				{Bench: "StatementStorage", Unit: "rows/hour", Show: "an hour", Count: true},
				{Bench: "StatementStorage", Unit: "rows/day", Show: "a day", Count: true},
				{Bench: "StatementStorage", Unit: "B/raw-row", Show: "B", Label: "raw row "},
				{Bench: "StatementStorage", Unit: "B/hour-row", Show: "B", Label: "hourly row "}},
		},
	}
}
