{{/*
The operator's settings, as the KUBETASK_* environment variables its settings object reads once at start
(kubetask_operator/_settings.py; tests/chart checks that every variable set here is a real setting).
*/}}
{{- define "kubetask.operatorEnv" -}}
- name: KUBETASK_NAMESPACES
  value: {{ join "," (uniq .Values.watchNamespaces) | quote }}
- name: KUBETASK_LOG_LEVEL
  value: {{ .Values.operator.logLevel | quote }}
- name: KUBETASK_LOG_FORMAT
  value: {{ .Values.operator.logFormat | quote }}
- name: KUBETASK_SYSTEM_RETRIES
  value: {{ .Values.operator.systemRetries | quote }}
- name: KUBETASK_IMAGE_PULL_GRACE
  value: {{ .Values.operator.imagePullGracePeriod | quote }}
- name: KUBETASK_INLINE_INPUTS_MAX_BYTES
  value: {{ .Values.operator.inlineInputsMaxBytes | quote }}
- name: KUBETASK_DEFAULT_QUEUE_MAX_RUNNING
  value: {{ if kindIs "invalid" .Values.operator.defaultQueueMaxRunning }}""{{ else }}{{ .Values.operator.defaultQueueMaxRunning | quote }}{{ end }}
- name: KUBETASK_API_CONCURRENCY
  value: {{ .Values.operator.apiConcurrency | quote }}
- name: KUBETASK_LIVENESS_PORT
  value: {{ .Values.operator.livenessPort | quote }}
- name: KUBETASK_METRICS_PORT
  value: {{ .Values.operator.metricsPort | quote }}
- name: KUBETASK_BIND_ADDRESS
  value: {{ .Values.operator.bindAddress | quote }}
- name: KUBETASK_STORAGE_PREFIX
  value: {{ .Values.storage.prefix | quote }}
- name: KUBETASK_STORAGE_SECRET
  value: {{ .Values.storage.credentials.secretName | quote }}
- name: KUBETASK_STORAGE_CONFINEMENT
  value: {{ .Values.storage.confinement | quote }}
- name: KUBETASK_POD_SECURITY_LEVEL
  value: {{ .Values.taskPods.podSecurityLevel | quote }}
- name: KUBETASK_POD_SECURITY_NAMESPACES
  value: {{ include "kubetask.namespaceLevels" . | quote }}
- name: KUBETASK_SERVICE_ACCOUNTS
  value: {{ join "," (uniq .Values.taskPods.serviceAccounts) | quote }}
- name: KUBETASK_LEADER_ELECTION
  value: {{ .Values.leaderElection.enabled | quote }}
{{- if .Values.leaderElection.enabled }}
# The Lease lives in the operator's own namespace, where the chart's leader-election Role allows it.
- name: KUBETASK_LEADER_ELECTION_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: KUBETASK_LEADER_ELECTION_LEASE
  value: {{ include "kubetask.fullname" . | quote }}
- name: KUBETASK_LEADER_ELECTION_LEASE_DURATION
  value: {{ .Values.leaderElection.leaseDuration | quote }}
- name: KUBETASK_LEADER_ELECTION_RENEW_DEADLINE
  value: {{ .Values.leaderElection.renewDeadline | quote }}
- name: KUBETASK_LEADER_ELECTION_RETRY_PERIOD
  value: {{ .Values.leaderElection.retryPeriod | quote }}
{{- end }}
{{- with .Values.operator.defaultTaskResources }}
- name: KUBETASK_DEFAULT_RESOURCES
  value: {{ toJson . | quote }}
{{- end }}
{{- end }}

{{/* taskPods.namespacePodSecurityLevels as KUBETASK_POD_SECURITY_NAMESPACES reads it: ns=level,ns=level. */}}
{{- define "kubetask.namespaceLevels" -}}
{{- $pairs := list }}
{{- range $namespace, $level := .Values.taskPods.namespacePodSecurityLevels }}
{{- $pairs = append $pairs (printf "%s=%s" $namespace $level) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
