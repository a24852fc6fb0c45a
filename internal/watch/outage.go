package watch

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// apiResult records the outcome of a list or watch call of resource and returns err.
// Every failure is told (APIFailed: after the first sync, answers keep coming from the
// last known state); so is the first success that leaves no resource failing
// (APIRecovered). Each problem is logged once, and its end once.
func (w *Watches) apiResult(resource string, err error) error {
	if err != nil && (errors.Is(err, context.Canceled) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
		return err // shutting down, or a normal relist after a compaction
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		if w.failing[resource] {
			delete(w.failing, resource)
			w.problem(resource, "", nil)
			if len(w.failing) == 0 {
				w.h.APIRecovered()
			}
		}
		return nil
	}
	w.failing[resource] = true
	w.h.APIFailed()
	switch {
	case apierrors.IsForbidden(err):
		// Also seen for a few seconds while a restarted API server loads its RBAC
		// caches, so say both.
		w.problem(resource, "forbidden", fmt.Errorf("listing or watching %s is forbidden (missing RBAC, or an API server still starting); serving the last known state: %w", resource, err))
	case apierrors.IsNotFound(err):
		w.problem(resource, "not_found", fmt.Errorf("%s are no longer served (CRD deleted?); serving the last known state: %w", resource, err))
	default:
		w.problem(resource, "unreachable", fmt.Errorf("cannot list or watch %s; serving the last known state until it resumes: %w", resource, err))
	}
	return err
}

// problem logs err for topic once per kind of problem (see problemLog).
func (w *Watches) problem(topic, kind string, err error) {
	w.problems.report(topic, kind, err, w.log.Errorf)
}
