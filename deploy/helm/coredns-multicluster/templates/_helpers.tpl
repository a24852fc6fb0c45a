{{/*
The name of every object and the app.kubernetes.io/name label that selects the pods:
the release name when it contains the chart's name (`helm install coredns-multicluster`
gives exactly deploy/standalone's names), else RELEASE-coredns-multicluster. Never the
cluster DNS's own names (coredns, kube-dns, system:coredns).
*/}}
{{- define "coredns-multicluster.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "coredns-multicluster.labels" -}}
app.kubernetes.io/name: {{ include "coredns-multicluster.fullname" . }}
{{- end -}}

{{/*
The Corefile: one server block for the zones, the multicluster plugin answering all of
them; no forward (other names are REFUSED) and no cache (the forwarder in front caches).
*/}}
{{- define "coredns-multicluster.corefile" -}}
{{- $zones := list -}}
{{- range .Values.zones }}{{ $zones = append $zones (printf "%s:53" .) }}{{ end -}}
{{ join " " $zones }} {
    errors
    health {
       lameduck 5s
    }
    ready
{{- $ttl := not (kindIs "invalid" .Values.ttl) }}
{{- if or .Values.clusterID $ttl }}
    multicluster {
{{- with .Values.clusterID }}
        cluster_id {{ . }}
{{- end }}
{{- if $ttl }}
        ttl {{ int .Values.ttl }}
{{- end }}
    }
{{- else }}
    multicluster
{{- end }}
    prometheus :9153
    loadbalance
{{- with .Values.extraConfig }}
{{ . | trim | indent 4 }}
{{- end }}
}
{{ end -}}
