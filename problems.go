package multicluster

import (
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
)

// problemLog logs each problem of a topic once per kind, until the kind changes or the
// problem is cleared: retries with the same cause stay quiet, and the end of a problem
// is logged once ("Recovered").
type problemLog struct {
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
			log.Infof("Recovered: %s", topic)
		}
		delete(p.last, topic)
		return
	}
	if kind != prev {
		logf("%s", err)
		p.last[topic] = kind
	}
}

// servedVersion returns the first of versions in which the API server serves resource
// of group, or "" when it serves none; err is set when discovery itself fails.
func servedVersion(disc discovery.DiscoveryInterface, group string, versions []string, resource string) (string, error) {
	for _, v := range versions {
		list, err := disc.ServerResourcesForGroupVersion(group + "/" + v)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		for _, r := range list.APIResources {
			if r.Name == resource {
				return v, nil
			}
		}
	}
	return "", nil
}

// current returns the kind of the problem last logged for topic, "" for none.
func (p *problemLog) current(topic string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[topic]
}
