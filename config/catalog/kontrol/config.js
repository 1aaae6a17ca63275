// kontrol's jobs: each runs an HTTP health check on a cron schedule and, when
// it fails, notifies Slack (SLACK_WEBHOOK_URL) and may heal through the Docker
// API (dockerode). This default watches kontrol itself and only notifies:
// replace it with the Stack's own config (kontrol-conf) listing the
// services to watch, e.g. kano's http://kano:8081/healthcheck.
module.exports = {
  docker: {},
  jobs: {
    kontrol: {
      cron: '0 */5 * * * *',
      url: 'http://localhost:8080/healthcheck',
      method: 'GET',
      retry: 1,
      timeout: 10000,
      notify: (error) => ({
        attachments: [{
          color: error ? 'danger' : 'good',
          mrkdwn_in: ['text'],
          text: error ? `*kontrol healthcheck failed*\n${error}` : '*kontrol healthcheck succeeded*'
        }]
      })
    }
  }
}
