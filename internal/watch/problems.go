package watch

import "sync"

// problemLog logs each problem of a topic once per kind, until the kind changes or the
// problem is cleared: retries with the same cause stay quiet, and the end of a problem
// is logged once ("Recovered").
type problemLog struct {
	log  Logger // for the recoveries
	mu   sync.Mutex
	last map[string]string // kind of the last logged problem per topic
}

// report logs err for topic with logf when its kind differs from the last one logged;
// err == nil clears the topic.
func (p *problemLog) report(topic, kind string, err error, logf func(format string, args ...any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string]string{}
	}
	prev := p.last[topic]
	if err == nil {
		if prev != "" {
			p.log.Infof("Recovered: %s", topic)
		}
		delete(p.last, topic)
		return
	}
	if kind != prev {
		logf("%s", err)
		p.last[topic] = kind
	}
}
