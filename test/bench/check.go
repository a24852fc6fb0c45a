package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// digAnswer is what dig printed for one question.
type digAnswer struct {
	rcode  string
	answer []dns.RR
	tc     bool
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	flagsRE  = regexp.MustCompile(`;; flags: ([a-z ]*);`)
)

// dig asks addr (host:port) one question with the real dig, over UDP with a 4096-byte
// EDNS buffer like dnsperf -e, and parses its output.
func dig(ctx context.Context, addr string, q query) (digAnswer, string, error) {
	host, port, _ := strings.Cut(addr, ":")
	args := []string{"@" + host, "-p", port, "+norecurse", "+bufsize=4096", "+ignore", "+tries=2", "+time=2",
		"+noall", "+comments", "+answer", q.name, dns.TypeToString[q.qtype]}
	out, err := exec.CommandContext(ctx, "dig", args...).CombinedOutput()
	cmdline := "dig " + strings.Join(args, " ")
	if err != nil {
		return digAnswer{}, cmdline, fmt.Errorf("%s: %v\n%s", cmdline, err, out)
	}
	var a digAnswer
	if m := statusRE.FindSubmatch(out); m != nil {
		a.rcode = string(m[1])
	} else {
		return a, cmdline, fmt.Errorf("%s: no status in output:\n%s", cmdline, out)
	}
	if m := flagsRE.FindSubmatch(out); m != nil {
		a.tc = strings.Contains(" "+string(m[1])+" ", " tc ")
	}
	section := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, "SECTION:") {
			section = strings.TrimSuffix(strings.TrimPrefix(line, ";; "), " SECTION:")
			continue
		}
		if section != "ANSWER" || strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return a, cmdline, fmt.Errorf("%s: cannot parse %q: %v", cmdline, line, err)
		}
		if rr != nil {
			a.answer = append(a.answer, rr)
		}
	}
	return a, cmdline, nil
}

// checkResult is the outcome of checking one set against one contender.
type checkResult struct {
	Set       string `json:"set"`
	Contender string `json:"contender"`
	OK        bool   `json:"ok"`
	// Detail describes the first difference from the expected answer.
	Detail string `json:"detail,omitempty"`
	// Example is one dig command line of the check.
	Example string `json:"example"`
}

// checkSet digs every query of set at addr and compares with the expected answers.
func checkSet(ctx context.Context, addr string, c contender, set querySet) checkResult {
	res := checkResult{Set: set.id, Contender: string(c), OK: true}
	for _, q := range set.queries {
		a, cmdline, err := dig(ctx, addr, q)
		if res.Example == "" {
			res.Example = cmdline
		}
		if err != nil {
			return checkResult{Set: set.id, Contender: string(c), Detail: err.Error(), Example: cmdline}
		}
		var problems []string
		if want := dns.RcodeToString[q.rcode]; a.rcode != want {
			problems = append(problems, fmt.Sprintf("%s, want %s", a.rcode, want))
		}
		if a.tc {
			problems = append(problems, "truncated (TC)")
		}
		got := make([]string, len(a.answer))
		for i, rr := range a.answer {
			got[i] = normalise(rr)
		}
		if d := diffAnswers(q.answer, got); d != "" {
			problems = append(problems, d)
		}
		if len(problems) > 0 {
			res.OK = false
			res.Detail = q.String() + ": " + strings.Join(problems, "; ") + " (" + strconv.Itoa(len(got)) + " records)"
			return res
		}
	}
	return res
}
