// A node of `timbre serve`, controlled over OSC (see docs/OSC.md in timbre's repository).
// Every method sends one flat command; the server answers each with one reply, which is
// routed to the method's `action` (a done reply) or posted as an error (a fail reply).
Timbre {
	classvar <>addr, <all, <pending, responders, <>timeout = 30;
	var <label;

	*initClass {
		Class.initClassTree(NetAddr);
		all = IdentityDictionary.new;
		pending = List.new;
		addr = NetAddr("127.0.0.1", 57130);
	}

	// One object per label: Timbre(\drums) is always the same object.
	*new { |label|
		var timbre;
		label = label.asSymbol;
		timbre = all[label];
		if(timbre.isNil) {
			timbre = super.newCopyArgs(label);
			all[label] = timbre;
		};
		^timbre
	}

	// ---- nodes ----

	// With a model: create the node if absent, free it if present (the original createNode).
	// Without: switch the node off.
	toggle { |model, method, block, seed, input, action|
		var args = [label];
		if(model.notNil) {
			args = args.add(model.asString);
			method !? { args = args.add(method.asSymbol) };
			block !? { args = args ++ [\block, block] };
			seed !? { args = args ++ [\seed, seed] };
			input !? { args = args ++ [\input, input] };
		};
		this.class.request('/timbre/toggle', args, action, label);
	}

	// Create the node (an error when it exists).
	create { |model, method, block, seed, input, action|
		var args = [label, model.asString];
		method !? { args = args.add(method.asSymbol) };
		block !? { args = args ++ [\block, block] };
		seed !? { args = args ++ [\seed, seed] };
		input !? { args = args ++ [\input, input] };
		this.class.request('/timbre/new', args, action, label);
	}

	free { |action|
		this.class.request('/timbre/free', [label], action, label);
	}

	// /timbre/set LABEL PARAM VALUE...: set(\gain, 0.5), set(\eq, 0, \bandpass, 800, 2).
	set { |param ... values|
		this.class.request('/timbre/set', [label, param.asSymbol] ++ values, nil, label);
	}

	gain { |value| this.set(\gain, value) }
	inputGain { |value| this.set(\input_gain, value) }
	wet { |value| this.set(\wet, value) }
	mute { |on = true| this.set(\mute, on.binaryValue) }
	input { |source| this.set(\input, source) }
	noise { |amplitude| this.set(\noise, amplitude) }
	temperature { |value| this.set(\temperature, value) }
	seed { |value| this.set(\seed, value) }
	// eq(0, \bandpass, 800, 2), eq(1, \peak, 3000, 1, -6), eq(0, \off)
	eq { |band, kind, freq, q, gainDB|
		var args = [band, kind];
		if(kind.asSymbol != \off) {
			args = args.add(freq);
			if(q.notNil or: { gainDB.notNil }) { args = args.add(q ? 0.7071) };
			gainDB !? { args = args.add(gainDB) };
		};
		this.set(\eq, *args);
	}
	latent { |dim, value| this.set(\latent, dim, value) }
	latents { |values| this.set(\latents, *values) }
	bias { |dim, value| this.set(\bias, dim, value) }
	scale { |dim, value| this.set(\scale, dim, value) }
	trigger { this.set(\trigger) }

	// ---- MIDI, sequencer, swap ----

	// midiMap(\gain, cc: 7, chan: 1, range: [0.05, 2], curve: \exp)
	// midiMap([\bias, 3], cc: 21, range: [-2, 2])
	// midiMap(\trigger, note: 36, latents: [0.2, -0.5, 1])   (note: \any for every note)
	// midiMap(\trigger, note: 36, drum: \kick)   (a drum export of trigger contract 2: the class)
	midiMap { |param, cc, chan, range, curve, note, latents, action, drum|
		var args = [label];
		if(param == \trigger or: { note.notNil }) {
			args = args ++ [\trigger, \note, note ? \any];
			drum !? { args = args ++ [\class, drum] };
			latents !? { args = args ++ [\latents] ++ latents };
		} {
			args = args ++ param.asArray ++ [\cc, cc];
			chan !? { args = args ++ [\chan, chan] };
			range !? { args = args ++ [\range] ++ range };
			curve !? { args = args ++ [\curve, curve] };
		};
		this.class.request('/timbre/midi/map', args, action, label);
	}

	// seq(steps: 16, bpm: 120, div: 4, swing: 0.1), then step(...) and play/stop.
	seq { |steps = 16, bpm = 120, div, swing, action|
		var args = [label, \steps, steps, \bpm, bpm];
		div !? { args = args ++ [\div, div] };
		swing !? { args = args ++ [\swing, swing] };
		this.class.request('/timbre/seq', args, action, label);
	}

	// step(0, [1, 0.2, -0.3], trigger: true) or trigger: 0.8 (a velocity), glide: 0.5;
	// drum: \hat plays that class on a drum export of trigger contract 2
	step { |index, latents, trigger, glide, action, drum|
		var args = [label, index, \latents] ++ latents;
		if(trigger.notNil and: { trigger != false }) {
			args = args.add(\trigger);
			if(trigger.isNumber) { args = args.add(trigger) };
			drum !? { args = args ++ [\class, drum] };
		};
		glide !? { args = args ++ [\glide, glide] };
		this.class.request('/timbre/seq/step', args, action, label);
	}

	play { |action| this.class.request('/timbre/seq/play', [label], action, label) }
	stop { |action| this.class.request('/timbre/seq/stop', [label], action, label) }

	// swap("other.ts", fade: 2): replace the node's model, crossfading.
	swap { |model, fade, action|
		var args = [label, model.asString];
		fade !? { args = args ++ [\fade, fade] };
		this.class.request('/timbre/swap', args, action, label);
	}

	printOn { |stream| stream << "Timbre(" <<< label << ")" }

	// ---- the server ----

	// Timbre.status { |status, json| status[\nodes].do { |n| n[\label].postln } }
	*status { |action|
		this.request('/timbre/status', [], action);
	}

	// Timbre.models { |names| names.postln }
	*models { |action|
		this.request('/timbre/models', [], action);
	}

	// Timbre.midiList { |reply| reply.drop(1).do(_.postln) }: one line per MIDI mapping, in the
	// syntax of midi/map (reply[0] is the address).
	*midiList { |action|
		this.request('/timbre/midi/list', [], action);
	}

	*quit { |action|
		this.request('/timbre/quit', [], action);
	}

	// Sends one command and remembers who waits for its reply. Every command gets exactly one.
	*request { |address, args, action, label|
		var request = TimbreRequest(address.asSymbol, label !? { label.asSymbol }, action);
		this.prListen;
		pending.add(request);
		addr.sendMsg(address, *args);
		SystemClock.sched(timeout, {
			if(pending.includes(request)) {
				pending.remove(request);
				"Timbre: no reply to % % within % s from %:% (is `timbre serve` running?)"
					.format(address, args.join(" "), timeout, addr.ip, addr.port).error;
			};
			nil
		});
	}

	*prListen {
		if(responders.isNil) {
			responders = [
				OSCFunc({ |msg| this.prDone(msg) }, '/timbre/done').permanent_(true),
				OSCFunc({ |msg| this.prFail(msg) }, '/timbre/fail').permanent_(true),
				OSCFunc({ |msg|
					var json = msg[1].asString;
					this.prTake('/timbre/status', nil) !? { |request| request.action.value(this.prParse(json), json) };
				}, '/timbre/status').permanent_(true),
				OSCFunc({ |msg|
					this.prTake('/timbre/models', nil) !? { |request| request.action.value(msg.drop(1).collect(_.asString)) };
				}, '/timbre/models').permanent_(true),
			];
		};
	}

	// /timbre/done ADDRESS [LABEL ...]: the waiting request of that address (and label).
	*prDone { |msg|
		var address = msg[1].asSymbol;
		var replyLabel = msg[2] !? { msg[2].asSymbol };
		this.prTake(address, replyLabel) !? { |request| request.action.value(msg.drop(1)) };
	}

	// /timbre/fail ADDRESS MESSAGE: posted; the request it answers gets no action.
	*prFail { |msg|
		var address = msg[1].asSymbol, text = msg[2].asString;
		var request = pending.detect { |r|
			r.address == address and: { r.label.notNil and: { text.contains("'" ++ r.label ++ "'") } }
		} ?? { pending.detect { |r| r.address == address } };
		request !? { pending.remove(request) };
		("Timbre: % failed: %".format(address, text)).error;
	}

	*prTake { |address, replyLabel|
		var request = pending.detect { |r| r.address == address and: { replyLabel.isNil or: { r.label == replyLabel } } }
			?? { pending.detect { |r| r.address == address } };
		request !? { pending.remove(request) };
		^request
	}

	// The status JSON as dictionaries with symbol keys and numbers as numbers.
	*prParse { |json|
		var convert = { |value|
			case
			{ value.isKindOf(Dictionary) } {
				var out = IdentityDictionary.new;
				value.keysValuesDo { |key, item| out[key.asSymbol] = convert.(item) };
				out
			}
			{ value.isKindOf(SequenceableCollection) and: { value.isString.not } } { value.collect(convert) }
			{ value.isString } {
				case
				{ "^-?[0-9]+$".matchRegexp(value) and: { value.size < 10 } } { value.asInteger }
				{ "^-?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$".matchRegexp(value) } { value.asFloat }
				{ value }
			}
			{ value }
		};
		^convert.(json.parseJSON)
	}
}

// One command waiting for its reply.
TimbreRequest {
	var <address, <label, <action;

	*new { |address, label, action|
		^super.newCopyArgs(address, label, action)
	}
}
