from tts_accel.cli.app import main

if __name__ == "__main__":
    main()
