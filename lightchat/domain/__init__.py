"""Layer 1, the domain: plain data and rules, importing nothing of lightchat but its errors.

- ``events``: what a chat is made of (messages, steps, elements, actions, questions...) and
  the events of its log, with their JSON form;
- ``transcript``: a chat as it stands after the events applied so far;
- ``user``: ``User``, who signs in.
"""
