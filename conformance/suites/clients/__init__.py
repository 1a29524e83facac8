"""The client lane: cases that call the target through the official SDK clients themselves
(marker ``client_lane``; ``-m client_lane`` runs only them, ``-m "not client_lane"`` leaves them out)."""
