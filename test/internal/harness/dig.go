package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// The DNS client of the suite and the demo is the real dig; miekg/dns only parses the
// records dig prints.

// digCommon makes dig print every section with its comments (header, flags, status),
// and fail fast: one try, two seconds.
var digCommon = []string{"+noall", "+comments", "+question", "+answer", "+authority", "+additional", "+tries=1", "+time=2"}

// RunDig runs dig with args and returns the command line (as a shell would show it) and
// its standard output. dig exits non-zero when no server answered.
func RunDig(args ...string) (cmdline, out string, err error) {
	cmd := exec.Command("dig", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	cmdline = "dig " + strings.Join(args, " ")
	if err != nil {
		err = fmt.Errorf("%s: %w\n%s%s", cmdline, err, stdout.String(), stderr.String())
	}
	// dig warns on stderr that .local is for multicast DNS; that is no part of the answer.
	return cmdline, stdout.String(), err
}

// Server returns the dig arguments that address CoreDNS on 127.0.0.1:port.
func Server(port int) []string { return []string{"@127.0.0.1", "-p", strconv.Itoa(port)} }

// Response is one DNS response as dig printed it.
type Response struct {
	// Qname and Qtype are the question as dig printed it (Qname with the query's case).
	Qname, Qtype string
	// Status is the RCODE: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...
	Status string
	// Flags are the header flags dig printed (qr, aa, tc, rd, ra, ...).
	Flags map[string]bool
	// The sections, parsed from dig's presentation format.
	Answer, Authority, Additional []dns.RR
	// Raw is dig's output for this response.
	Raw string
}

// String is dig's output for the response.
func (r *Response) String() string { return r.Raw }

// ownQueryTries bounds how often a question is asked again when dig read back its own query.
const ownQueryTries = 3

// ownQuery reports whether r is dig's own query rather than a response (no qr flag). dig sets
// SO_REUSEPORT on its UDP sockets, as CoreDNS does on its listeners, so the kernel may give dig
// the server's port as its source port; the query then lands on dig's own socket and dig prints
// it as the reply: NOERROR, flags "rd ad", its own cookie "echoed". Checked by hand: a socket with
// SO_REUSEPORT on 127.0.0.1:P and `dig -b 127.0.0.1#P @127.0.0.1 -p P` print exactly that. It
// happens to about one query in 28,000 (the ephemeral port range), so a suite sending thousands
// meets it: it is not an answer of the server, and the question is asked again.
func (r *Response) ownQuery() bool { return !r.Flags["qr"] }

// Query asks one question (qtype like "A", "SRV", "AXFR" is not for here) over UDP
// unless extra says otherwise (e.g. "+tcp", "+ignore").
func Query(port int, name, qtype string, extra ...string) (r *Response, err error) {
	for try := 0; try < ownQueryTries; try++ {
		if r, err = queryOnce(port, name, qtype, extra...); err != nil || !r.ownQuery() {
			return r, err
		}
	}
	return r, nil
}

func queryOnce(port int, name, qtype string, extra ...string) (*Response, error) {
	args := append(Server(port), digCommon...)
	args = append(args, extra...)
	args = append(args, name, qtype)
	cmdline, out, err := RunDig(args...)
	if err != nil {
		return nil, err
	}
	rs, err := parseDig(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmdline, err)
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%s: %d responses in dig's output:\n%s", cmdline, len(rs), out)
	}
	return rs[0], nil
}

// Question is a query of a batch.
type Question struct{ Name, Type string }

// QueryBatch asks many questions with one dig process (dig -f), in order.
func QueryBatch(port int, qs []Question, extra ...string) ([]*Response, error) {
	f, err := os.CreateTemp("", "dig-batch-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	for _, q := range qs {
		fmt.Fprintf(f, "%s %s\n", q.Name, q.Type)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	args := append(Server(port), digCommon...)
	args = append(args, extra...)
	args = append(args, "-f", f.Name())
	cmdline, out, err := RunDig(args...)
	if err != nil {
		return nil, err
	}
	rs, err := parseDig(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmdline, err)
	}
	if len(rs) != len(qs) {
		return nil, fmt.Errorf("%s: %d questions but %d responses in dig's output", cmdline, len(qs), len(rs))
	}
	for i, r := range rs {
		if !strings.EqualFold(r.Qname, dns.Fqdn(qs[i].Name)) || !strings.EqualFold(r.Qtype, qs[i].Type) {
			return nil, fmt.Errorf("%s: response %d is for %s %s, want %s %s", cmdline, i, r.Qname, r.Qtype, qs[i].Name, qs[i].Type)
		}
		if r.ownQuery() {
			if rs[i], err = Query(port, qs[i].Name, qs[i].Type, extra...); err != nil {
				return nil, err
			}
		}
	}
	return rs, nil
}

// parseDig splits dig's output into responses (each starts with the ->>HEADER<<- line)
// and parses their sections.
func parseDig(out string) ([]*Response, error) {
	var (
		rs      []*Response
		cur     *Response
		section *[]dns.RR
		inQ     bool
		raw     strings.Builder
	)
	flush := func() {
		if cur != nil {
			cur.Raw = raw.String()
			rs = append(rs, cur)
		}
		raw.Reset()
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ->>HEADER<<-"):
			flush()
			cur = &Response{Flags: map[string]bool{}}
			section, inQ = nil, false
			_, status, ok := strings.Cut(line, "status: ")
			if !ok {
				return nil, fmt.Errorf("no status in %q", line)
			}
			cur.Status, _, _ = strings.Cut(status, ",")
		case cur == nil:
			if strings.HasPrefix(line, ";; communications error") || strings.HasPrefix(line, ";; no servers") {
				return nil, errors.New(strings.TrimSpace(line))
			}
			continue
		case strings.HasPrefix(line, ";; flags:"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			for _, f := range strings.Fields(flags) {
				cur.Flags[f] = true
			}
		case strings.HasPrefix(line, ";; QUESTION SECTION:"):
			section, inQ = nil, true
		case strings.HasPrefix(line, ";; ANSWER SECTION:"):
			section, inQ = &cur.Answer, false
		case strings.HasPrefix(line, ";; AUTHORITY SECTION:"):
			section, inQ = &cur.Authority, false
		case strings.HasPrefix(line, ";; ADDITIONAL SECTION:"):
			section, inQ = &cur.Additional, false
		case strings.HasPrefix(line, ";; "):
			section, inQ = nil, false
		case inQ && strings.HasPrefix(line, ";") && len(strings.Fields(line)) == 3:
			// The question: ";name.		IN	TYPE".
			f := strings.Fields(strings.TrimPrefix(line, ";"))
			cur.Qname, cur.Qtype = f[0], f[2]
		case strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "":
		default:
			if section == nil {
				return nil, fmt.Errorf("record outside a section: %q", line)
			}
			rr, err := dns.NewRR(line)
			if err != nil {
				return nil, fmt.Errorf("parsing %q: %w", line, err)
			}
			*section = append(*section, rr)
		}
		if cur != nil && !strings.HasPrefix(line, ";; Got answer:") {
			raw.WriteString(line)
			raw.WriteByte('\n')
		}
	}
	flush()
	return rs, nil
}

// Transfer runs `dig AXFR zone` (or `dig IXFR=serial zone` when ixfr is set) and returns
// the records in the order received.
func Transfer(port int, zone string, ixfr *uint32) ([]dns.RR, string, error) {
	qtype := "AXFR"
	if ixfr != nil {
		qtype = "IXFR=" + strconv.FormatUint(uint64(*ixfr), 10)
	}
	args := append(Server(port), "+noall", "+answer", "+tries=1", "+time=5", zone, qtype)
	cmdline, out, err := RunDig(args...)
	if err != nil {
		return nil, out, err
	}
	var rrs []dns.RR
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Transfer failed") {
			return nil, out, fmt.Errorf("%s: %s", cmdline, strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, out, fmt.Errorf("%s: parsing %q: %w", cmdline, line, err)
		}
		rrs = append(rrs, rr)
	}
	return rrs, out, nil
}

// Data is a record without its owner and TTL, normalised for comparisons:
// "A 10.0.0.1", "AAAA fd00::1", "SRV 80 target.", "TXT \"1.0.0\"", "NS ns.dns.zone.",
// "SOA ns.dns.zone. hostmaster.zone. 7200 1800 86400 5" (the serial left out).
// Names are in lower case.
func Data(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		return "A " + r.A.String()
	case *dns.AAAA:
		return "AAAA " + r.AAAA.String()
	case *dns.SRV:
		return fmt.Sprintf("SRV %d %s", r.Port, strings.ToLower(r.Target))
	case *dns.TXT:
		return fmt.Sprintf("TXT %q", strings.Join(r.Txt, ""))
	case *dns.NS:
		return "NS " + strings.ToLower(r.Ns)
	case *dns.SOA:
		return fmt.Sprintf("SOA %s %s %d %d %d %d", strings.ToLower(r.Ns), strings.ToLower(r.Mbox), r.Refresh, r.Retry, r.Expire, r.Minttl)
	case *dns.PTR:
		return "PTR " + strings.ToLower(r.Ptr)
	}
	h := rr.Header()
	s := rr.String()
	return dns.TypeToString[h.Rrtype] + " " + strings.TrimSpace(s[len(h.String()):])
}

// Datas returns Data of every record.
func Datas(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = Data(rr)
	}
	return out
}
