package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dnsperfOptions configure one dnsperf run.
type dnsperfOptions struct {
	server   string // host:port
	input    string // query file
	duration time.Duration
	clients  int
	// outstanding is -q, the most queries in flight.
	outstanding int
	// qps, when > 0, is -Q: a fixed rate instead of as fast as the server answers.
	qps int
	// cpus pins dnsperf with taskset.
	cpus string
	// output receives dnsperf's stdout: with -v one line per query ("> NOERROR name A
	// 0.000123"), which is where the latency percentiles come from.
	output string
}

func (o dnsperfOptions) args() []string {
	host, port, _ := strings.Cut(o.server, ":")
	args := []string{"dnsperf", "-s", host, "-p", port, "-d", o.input,
		"-l", strconv.FormatFloat(o.duration.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(o.clients), "-q", strconv.Itoa(o.outstanding),
		"-t", "2", // a lost query frees its slot after 2 s
		"-e", // EDNS0 (4096-byte buffer): a 100-address answer is not truncated
		"-v", // per-query latency lines
	}
	if o.qps > 0 {
		args = append(args, "-Q", strconv.Itoa(o.qps))
	}
	if o.cpus != "" {
		args = append([]string{"taskset", "-c", o.cpus}, args...)
	}
	return args
}

// perfResult is what one dnsperf run reports.
type perfResult struct {
	Sent      int64            `json:"sent"`
	Completed int64            `json:"completed"`
	Lost      int64            `json:"lost"`
	Rcodes    map[string]int64 `json:"rcodes"`
	QPS       float64          `json:"qps"`
	RunTime   float64          `json:"runTimeSeconds"`
	// Latencies in seconds: the average as dnsperf reports it, the percentiles from the
	// per-query lines.
	AvgLatency float64 `json:"avgLatency"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	MaxLatency float64 `json:"maxLatency"`
	// ResponseSize is dnsperf's average response packet size in bytes.
	ResponseSize float64 `json:"responseSize"`
	// CPU is what our processes and everything else used during the run, in cores.
	CPU cpuUse `json:"cpu"`
	// ServerCPU and ClientCPU are the cores CoreDNS and dnsperf used during the run;
	// a saturated server shows about 1.0 (it is limited to one core).
	ServerCPU float64 `json:"serverCPU"`
	ClientCPU float64 `json:"clientCPU"`
	// ServerCore and ClientCore are how busy (0–1) the pinned cores were, interrupts
	// included: the kernel's UDP work is not charged to either process.
	ServerCore float64 `json:"serverCore"`
	ClientCore float64 `json:"clientCore"`
	// Command is the command line.
	Command string `json:"command"`
}

// runDNSPerf runs dnsperf to the end and parses its report. meter, when set, is read at
// the end of the run (reset it just before).
func runDNSPerf(ctx context.Context, o dnsperfOptions, meter *cpuMeter) (perfResult, error) {
	cmd, err := startDNSPerf(o)
	if err != nil {
		return perfResult{}, err
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGINT)
		err = <-waitErr
	}
	return finishDNSPerf(o, cmd, err, meter)
}

func startDNSPerf(o dnsperfOptions) (*exec.Cmd, error) {
	out, err := os.Create(o.output)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	args := o.args()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting dnsperf: %w", err)
	}
	return cmd, nil
}

// stopDNSPerf interrupts a dnsperf started with startDNSPerf (it then prints its
// report) and parses the report.
func stopDNSPerf(o dnsperfOptions, cmd *exec.Cmd, meter *cpuMeter) (perfResult, error) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	return finishDNSPerf(o, cmd, err, meter)
}

func finishDNSPerf(o dnsperfOptions, cmd *exec.Cmd, waitErr error, meter *cpuMeter) (perfResult, error) {
	if meter != nil && cmd.ProcessState != nil {
		meter.addExited(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	}
	var cpu cpuUse
	if meter != nil {
		cpu = meter.read()
	}
	f, err := os.Open(o.output)
	if err != nil {
		return perfResult{}, err
	}
	defer f.Close()
	res, err := parseDNSPerf(f)
	res.CPU = cpu
	if cmd.ProcessState != nil && res.RunTime > 0 {
		res.ClientCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / res.RunTime
	}
	res.Command = strings.Join(o.args(), " ")
	if err != nil {
		return res, fmt.Errorf("%s (exit: %v): %w; output in %s", res.Command, waitErr, err, o.output)
	}
	return res, nil
}

var (
	sentRE      = regexp.MustCompile(`Queries sent:\s+(\d+)`)
	completedRE = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	lostRE      = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	rcodesRE    = regexp.MustCompile(`Response codes:\s+(.*)`)
	rcodeRE     = regexp.MustCompile(`([A-Z]+) (\d+) \(`)
	qpsRE       = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	runTimeRE   = regexp.MustCompile(`Run time \(s\):\s+([0-9.]+)`)
	avgLatRE    = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+) \(min ([0-9.]+), max ([0-9.]+)\)`)
	sizeRE      = regexp.MustCompile(`Average packet size:\s+request \d+, response (\d+)`)
)

// parseDNSPerf reads dnsperf -v output: per-query lines, then the statistics.
func parseDNSPerf(r io.Reader) (perfResult, error) {
	res := perfResult{Rcodes: map[string]int64{}}
	var lat []float64
	var summary strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "> ") {
			// "> NOERROR name TYPE 0.000123"
			i := strings.LastIndexByte(line, ' ')
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				lat = append(lat, v)
			}
			continue
		}
		summary.WriteString(line)
		summary.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	s := summary.String()
	intOf := func(re *regexp.Regexp) (int64, bool) {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		return v, err == nil
	}
	floatOf := func(re *regexp.Regexp, i int) (float64, bool) {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[i], 64)
		return v, err == nil
	}
	var ok [5]bool
	res.Sent, ok[0] = intOf(sentRE)
	res.Completed, ok[1] = intOf(completedRE)
	res.Lost, _ = intOf(lostRE)
	res.QPS, ok[2] = floatOf(qpsRE, 1)
	res.RunTime, ok[3] = floatOf(runTimeRE, 1)
	res.AvgLatency, ok[4] = floatOf(avgLatRE, 1)
	res.MaxLatency, _ = floatOf(avgLatRE, 3)
	res.ResponseSize, _ = floatOf(sizeRE, 1)
	if m := rcodesRE.FindStringSubmatch(s); m != nil {
		for _, rc := range rcodeRE.FindAllStringSubmatch(m[1], -1) {
			n, _ := strconv.ParseInt(rc[2], 10, 64)
			res.Rcodes[rc[1]] = n
		}
	}
	for _, k := range ok {
		if !k {
			return res, fmt.Errorf("incomplete dnsperf report:\n%s", lastLines(s, 25))
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50 = percentile(lat, 50)
		res.P99 = percentile(lat, 99)
	}
	return res, nil
}

// percentile returns the p-th percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkRcodes verifies that a run answered every query, with the rcodes in the
// expected shares (within 1 %), and nothing else. It returns a description of what is
// wrong, or "".
func checkRcodes(r perfResult, want map[string]float64) string {
	var problems []string
	if r.Completed == 0 {
		return "no query completed"
	}
	for rc, n := range r.Rcodes {
		share := float64(n) / float64(r.Completed)
		if want[rc] == 0 {
			problems = append(problems, fmt.Sprintf("%d %s", n, rc))
			continue
		}
		if math.Abs(share-want[rc]) > 0.01 {
			problems = append(problems, fmt.Sprintf("%s %.1f%%, want %.1f%%", rc, 100*share, 100*want[rc]))
		}
	}
	for rc, w := range want {
		if w > 0 && r.Rcodes[rc] == 0 {
			problems = append(problems, "no "+rc)
		}
	}
	if lossShare := float64(r.Lost) / float64(max(r.Sent, 1)); lossShare > 0.001 {
		problems = append(problems, fmt.Sprintf("%.2f%% lost", 100*lossShare))
	}
	slices.Sort(problems)
	return strings.Join(problems, ", ")
}
