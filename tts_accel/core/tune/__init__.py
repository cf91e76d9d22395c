"""`tts tune`: search execution plans on this machine and measure the acoustic engines; keep the best."""
