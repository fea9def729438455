from lightchat.cli import main

main()
