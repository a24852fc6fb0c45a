package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Readings from /proc: memory of a process, CPU time of a process and of the whole
// machine, and the load average.

// clockTick is USER_HZ, the unit of the CPU times in /proc (100 on every Linux
// architecture Go supports).
const clockTick = 100

// memStatus is a process's resident set size now and at its peak (VmHWM), in bytes.
type memStatus struct {
	RSS, HWM int64
}

// readMem reads VmRSS and VmHWM from /proc/PID/status.
func readMem(pid int) (memStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	var m memStatus
	var seen int
	for _, line := range strings.Split(string(data), "\n") {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.HWM
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return m, fmt.Errorf("bad line %q in /proc/%d/status", line, pid)
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return m, err
		}
		*dst = kb << 10
		seen++
	}
	if seen != 2 {
		return m, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return m, nil
}

// resetPeak makes VmHWM start again from the current RSS (Linux ≥ 4.0: writing 5 to
// clear_refs resets the peak resident set size).
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procCPU returns the user plus system CPU time a process has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after it start at ")".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return ticks(u + s), nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTick }

// machineCPU returns the CPU time spent running tasks (user, nice and system; not
// interrupts, which no process is charged for) summed over all CPUs.
func machineCPU() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, errors.New("bad /proc/stat")
	}
	var sum int64
	for _, s := range f[1:4] { // user nice system
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return ticks(sum), nil
}

// coreBusy returns the time CPU core has not been idle (tasks, interrupts, steal) and
// its total time, from /proc/stat.
func coreBusy(core string) (busy, total time.Duration, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu"+core {
			continue
		}
		var v [8]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
				return 0, 0, err
			}
		}
		// user nice system idle iowait irq softirq steal
		idle := v[3] + v[4]
		var sum int64
		for _, x := range v {
			sum += x
		}
		return ticks(sum - idle), ticks(sum), nil
	}
	return 0, 0, fmt.Errorf("no cpu%s in /proc/stat", core)
}

// coreMeter measures how busy some cores were over an interval (0 to 1 each).
type coreMeter struct {
	cores       []string
	busy, total []time.Duration
}

func newCoreMeter(cores ...string) *coreMeter {
	m := &coreMeter{cores: cores, busy: make([]time.Duration, len(cores)), total: make([]time.Duration, len(cores))}
	for i, c := range cores {
		m.busy[i], m.total[i], _ = coreBusy(c)
	}
	return m
}

func (m *coreMeter) read() []float64 {
	out := make([]float64, len(m.cores))
	for i, c := range m.cores {
		b, t, err := coreBusy(c)
		if err == nil && t > m.total[i] {
			out[i] = float64(b-m.busy[i]) / float64(t-m.total[i])
		}
	}
	return out
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// cpuMeter measures, over an interval, how much CPU our own processes used and how
// much everything else on the machine used ("foreign" CPU: other people's builds and
// tests), so each measurement can say how quiet the machine was.
type cpuMeter struct {
	pids    func() []int
	start   time.Time
	machine time.Duration
	ours    map[int]time.Duration
	exited  time.Duration
}

// newCPUMeter starts measuring; pids lists our processes (this program is added).
func newCPUMeter(pids func() []int) *cpuMeter {
	m := &cpuMeter{pids: pids}
	m.reset()
	return m
}

func (m *cpuMeter) reset() {
	m.start = time.Now()
	m.machine, _ = machineCPU()
	m.ours = map[int]time.Duration{}
	m.exited = 0
	for _, pid := range m.allPIDs() {
		if t, err := procCPU(pid); err == nil {
			m.ours[pid] = t
		}
	}
}

func (m *cpuMeter) allPIDs() []int {
	pids := []int{os.Getpid()}
	if m.pids != nil {
		pids = append(pids, m.pids()...)
	}
	return pids
}

// addExited counts the CPU time of one of our processes that exited during the
// interval (its /proc entry is gone, so read cannot see it).
func (m *cpuMeter) addExited(d time.Duration) { m.exited += d }

// cpuUse is CPU used over an interval, in cores (1.0 = one core busy all the time).
type cpuUse struct {
	Ours, Foreign float64
	Load1         float64
}

// read returns the use since the last reset, and resets.
func (m *cpuMeter) read() cpuUse {
	elapsed := time.Since(m.start)
	machine, _ := machineCPU()
	ours := m.exited
	for _, pid := range m.allPIDs() {
		t, err := procCPU(pid)
		if err != nil {
			continue
		}
		// A process that started during the interval counts from zero.
		ours += t - m.ours[pid]
	}
	u := cpuUse{Load1: loadAvg()}
	if elapsed > 0 {
		u.Ours = ours.Seconds() / elapsed.Seconds()
		u.Foreign = max(0, (machine-m.machine-ours).Seconds()/elapsed.Seconds())
	}
	m.reset()
	return u
}
