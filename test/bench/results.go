package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// results is everything a run measured; results.json holds it and the report renders it.
type results struct {
	Options      options        `json:"options"`
	Machine      machine        `json:"machine"`
	Started      time.Time      `json:"started"`
	Finished     time.Time      `json:"finished"`
	PhaseSeconds []phaseTime    `json:"phaseSeconds"`
	LoadWaits    []loadWait     `json:"loadWaits"`
	Checks       []checkResult  `json:"checks"`
	Throughput   []setResult    `json:"throughput"`
	Profiles     []profile      `json:"profiles"`
	Freshness    []freshness    `json:"freshness"`
	FreshQPS     int            `json:"freshQPS"`
	Scale        []scalePoint   `json:"scale"`
	Replicas     []replicaPoint `json:"replicas,omitempty"`
	Hop          []hopResult    `json:"hop,omitempty"`
	BaselineRSS  int64          `json:"baselineRSS"`
	Micro        []microResult  `json:"micro"`
	MicroCommand string         `json:"microCommand"`
}

type phaseTime struct {
	Phase   string  `json:"phase"`
	Seconds float64 `json:"seconds"`
}

// loadWait records how quiet the machine was before a measurement.
type loadWait struct {
	What    string  `json:"what"`
	Waited  float64 `json:"waitedSeconds"`
	Foreign float64 `json:"foreignCores"`
	Load1   float64 `json:"load1"`
	Quiet   bool    `json:"quiet"`
}

// setResult holds the runs of one query set.
type setResult struct {
	Set   string                     `json:"set"`
	Title string                     `json:"title"`
	Runs  map[contender][]perfResult `json:"runs"`
	// Problems lists runs whose response codes were not as expected.
	Problems []string `json:"problems,omitempty"`
}

// profile is a CPU profile of one contender under load of one query set.
type profile struct {
	Set       string    `json:"set"`
	Contender contender `json:"contender"`
	Path      string    `json:"path"`
	Top       string    `json:"top"`
	QPS       float64   `json:"qps"`
	// Summary splits the profile by what the server does.
	Summary string `json:"summary"`
}

type machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpuModel"`
	Kernel      string `json:"kernel"`
	MemTotal    string `json:"memTotal"`
	Go          string `json:"go"`
	CoreDNS     string `json:"coredns"`
	DNSPerf     string `json:"dnsperf"`
	APIServer   string `json:"kubeAPIServer"`
	Etcd        string `json:"etcd"`
	GitCommit   string `json:"gitCommit"`
	GitDirty    bool   `json:"gitDirty"`
	Hostname    string `json:"hostname"`
	Virtualised string `json:"virtualised,omitempty"`
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

func output(dir string, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

func machineInfo(root, bin string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	m.Kernel = firstLine(output("", "uname", "-sr"))
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotal = strings.Join(strings.Fields(firstLine(string(data)))[1:], " ")
	}
	m.CoreDNS = firstLine(output("", bin, "-version"))
	for _, line := range strings.Split(output("", "dnsperf", "-h"), "\n") {
		if strings.HasPrefix(line, "Version") {
			m.DNSPerf = "dnsperf " + strings.TrimSpace(strings.TrimPrefix(line, "Version"))
		}
	}
	if data, err := os.ReadFile(filepath.Join(root, ".cache", "bin", "kube-apiserver.version")); err == nil {
		m.APIServer = firstLine(string(data))
	}
	etcd := filepath.Join(root, ".cache", "bin", "etcd")
	if _, err := os.Stat(etcd); err != nil {
		etcd = "etcd"
	}
	m.Etcd = "etcd " + strings.TrimSpace(strings.TrimPrefix(firstLine(output("", etcd, "--version")), "etcd Version:"))
	m.GitCommit = firstLine(output(root, "git", "rev-parse", "--short", "HEAD"))
	// Only what goes into bin/coredns: the plugin's sources and the CoreDNS build.
	m.GitDirty = strings.TrimSpace(output(root, "git", "status", "--porcelain", "--untracked-files=no", "--",
		":(glob)*.go", "go.mod", "go.sum", "coredns")) != ""
	m.Hostname, _ = os.Hostname()
	if data, err := os.ReadFile("/sys/class/dmi/id/sys_vendor"); err == nil {
		m.Virtualised = firstLine(string(data))
	}
	return m
}
