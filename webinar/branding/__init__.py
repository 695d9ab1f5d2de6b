"""An organisation's branding: its accent colour and logo on its events' public pages and e-mails."""
