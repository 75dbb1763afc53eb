# VM tests of guest-sourcing
